import OpenAI from 'openai';
import { WebSocket } from 'ws';
import { FakeHost, startFakeOllama } from '../fakes';
import { addHost, balanceOf, fundedUser, ledgerSum } from '../support/platform';
import { startTestApp, TestApp } from '../support/test-app';

describe('compatibility surfaces: serverless (002), LLM API (001), WebSocket (003)', () => {
  let t: TestApp;
  let host: FakeHost;
  let user: { userId: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ HOST_CHECK_INTERVAL_MS: '60000', TEXT_MODEL: 'llama3.1', IMAGE_MODEL: 'llava' });
    host = await startFakeOllama({ models: ['llama3.1', 'llava'], tokens: 4 });
    await addHost(t, 'gpu', host.url, 'ollama');
    user = await fundedUser(t, 100_000_000n);
  });
  afterAll(async () => {
    await t?.close();
    await host?.close();
  });

  const lastBody = () => host.requests[host.requests.length - 1]!.body as Record<string, unknown>;

  describe('serverless /api/v1/ai', () => {
    it('wraps the answer in {code, msg, data} and accepts camelCase parameters', async () => {
      const res = await fetch(`${t.url}/api/v1/ai/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
        body: JSON.stringify({
          model: 'llama3.1',
          messages: [
            { role: 'system', content: '' },
            { role: 'user', content: 'hi' },
          ],
          stream: false,
          maxTokens: 3,
          temperature: 0.5,
          topP: 0.02,
        }),
      });
      // The body says why when it is not a 200 (a 503 names what was unavailable).
      expect([res.status, res.status === 200 ? '' : await res.clone().text()]).toEqual([200, '']);
      const body = (await res.json()) as {
        code: number;
        msg: string;
        data: { object: string; choices: unknown[] };
      };
      expect(body.code).toBe(200);
      expect(body.msg).toBe('Operation successful');
      expect(body.data.object).toBe('chat.completion');
      const options = lastBody().options as Record<string, unknown>;
      expect(options.num_predict).toBe(3);
      expect(options.top_p).toBe(0.02);
    });

    it('streams event:messages / data:{chunk} pairs that the OpenAI SDK reads', async () => {
      const raw = await fetch(`${t.url}/api/v1/ai/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
        body: JSON.stringify({
          model: 'llama3.1',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        }),
      });
      const text = await raw.text();
      expect(text.startsWith('event:messages\ndata:{')).toBe(true);
      expect(text.split('event:messages\n').length - 1).toBeGreaterThanOrEqual(6);

      const client = new OpenAI({ apiKey: user.key, baseURL: `${t.url}/api/v1/ai`, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'llama3.1',
        messages: [{ role: 'user', content: 'say hello' }],
        max_tokens: 128,
        stream: true,
      });
      let content = '';
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
      expect(content.length).toBeGreaterThan(0);
    });
  });

  describe('LLM API (seed 001)', () => {
    it('answers {"response"} on the text model with X-API-Key, and streams plain text', async () => {
      const res = await fetch(`${t.url}/text_model/chat/completion`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-API-Key': user.key },
        body: JSON.stringify({
          messages: [{ role: 'user', content: 'What is the capital of France?' }],
          max_tokens: 100,
        }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(body)).toEqual(['response']);
      expect(lastBody().model).toBe('llama3.1');
      expect((lastBody().options as Record<string, unknown>).temperature).toBe(0);

      const stream = await fetch(`${t.url}/text_model/chat/stream`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-API-Key': user.key },
        body: JSON.stringify({
          messages: [{ role: 'user', content: 'Tell me a short story' }],
          temperature: 0.8,
        }),
      });
      expect(stream.headers.get('content-type')).toContain('text/plain');
      expect((await stream.text()).length).toBeGreaterThan(0);
    });

    it('analyses an uploaded image with the image model', async () => {
      const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
      const form = new FormData();
      form.append('image', new Blob([png], { type: 'image/png' }), 'photo.png');
      form.append('prompt', 'What objects are in this image?');
      form.append('temperature', '0.3');
      const res = await fetch(`${t.url}/image_model/chat/completion`, {
        method: 'POST',
        headers: { 'X-API-Key': user.key },
        body: form,
      });
      expect(res.status).toBe(200);
      expect(typeof ((await res.json()) as { response: unknown }).response).toBe('string');
      const sent = lastBody();
      expect(sent.model).toBe('llava');
      const messages = sent.messages as { images?: string[] }[];
      expect(messages[0]?.images?.[0]).toBe(png.toString('base64'));
    });

    it('refuses a text file named fake.png by its bytes (422), and bills nothing', async () => {
      const payer = await fundedUser(t, 1_000_000n);
      const seen = host.requests.length;
      for (const route of ['completion', 'stream']) {
        const form = new FormData();
        form.append('image', new Blob(['just some text, not an image'], { type: 'image/png' }), 'fake.png');
        form.append('prompt', 'What is in this image?');
        const res = await fetch(`${t.url}/image_model/chat/${route}`, {
          method: 'POST',
          headers: { 'X-API-Key': payer.key },
          body: form,
        });
        expect(res.status).toBe(422);
        const detail = ((await res.json()) as { detail: { loc: string[] }[] }).detail;
        expect(detail[0]?.loc).toEqual(['body', 'image']);
      }
      expect(host.requests.length).toBe(seen);
      expect(await balanceOf(t, payer.userId)).toBe(1_000_000n);
      expect(await ledgerSum(t, payer.userId)).toBe(1_000_000n);
    });

    it('answers errors as {"detail": …}: 401 missing key, 403 wrong key, 422 bad parameter', async () => {
      const call = (headers: Record<string, string>, body: unknown) =>
        fetch(`${t.url}/text_model/chat/completion`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
      const ok = { messages: [{ role: 'user', content: 'x' }] };
      const missing = await call({}, ok);
      expect(missing.status).toBe(401);
      expect(await missing.json()).toEqual({ detail: 'Missing API Key. Please provide X-API-Key header.' });
      const wrong = await call({ 'X-API-Key': 'sk-le-bad-bad' }, ok);
      expect(wrong.status).toBe(403);
      expect(await wrong.json()).toEqual({ detail: 'Invalid API Key' });
      const bad = await call({ 'X-API-Key': user.key }, { ...ok, temperature: 3 });
      expect(bad.status).toBe(422);
      const detail = ((await bad.json()) as { detail: { loc: string[]; msg: string }[] }).detail;
      expect(detail[0]?.loc).toEqual(['body', 'temperature']);
    });
  });

  describe('WebSocket /v1/chat/completions', () => {
    const wsUrl = () => t.url.replace('http', 'ws') + '/v1/chat/completions';

    it('streams chat.completion.chunk messages for each request', async () => {
      const ws = new WebSocket(wsUrl(), { headers: { Authorization: `Bearer ${user.key}` } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const messages: { choices: { delta: { content?: string }; finish_reason: string | null }[] }[] = [];
      const finished = new Promise<void>((resolve) => {
        ws.on('message', (data) => {
          const msg = JSON.parse(data.toString()) as (typeof messages)[number];
          messages.push(msg);
          if (msg.choices?.[0]?.finish_reason) resolve();
        });
      });
      ws.send(
        JSON.stringify({
          model: 'llama3.1',
          messages: [{ role: 'user', content: 'Tell me a story' }],
          stream: true,
        }),
      );
      await finished;
      ws.close();
      const text = messages.map((m) => m.choices[0]?.delta.content ?? '').join('');
      expect(text.length).toBeGreaterThan(0);
      expect(messages[messages.length - 1]?.choices[0]?.finish_reason).toBe('stop');
    });

    it('refuses a bad key with an OpenAI error message and close code 1008', async () => {
      const ws = new WebSocket(`${wsUrl()}?api_key=sk-le-bad-bad`);
      const first = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      expect(JSON.parse(await first)).toMatchObject({ error: { code: 'invalid_api_key' } });
      expect(await closed).toBe(1008);
    });
  });
});
