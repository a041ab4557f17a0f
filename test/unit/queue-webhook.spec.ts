import { createHmac } from 'node:crypto';
import { signWebhookBody, verifyWebhookSignature } from '../../src/queue/webhook-signature';
import {
  assertWebhookTarget,
  isPublicAddress,
  parseWebhookUrl,
  WebhookTargetError,
} from '../../src/queue/webhook-target';

describe('webhook targets', () => {
  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'accepts the public address %s',
    (a) => {
      expect(isPublicAddress(a)).toBe(true);
    },
  );

  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'not-an-ip',
  ])('refuses %s', (a) => {
    expect(isPublicAddress(a)).toBe(false);
  });

  it('takes only http(s) URLs without credentials', () => {
    expect(parseWebhookUrl('https://example.com/hook?x=1').hostname).toBe('example.com');
    expect(() => parseWebhookUrl('ftp://example.com/')).toThrow(WebhookTargetError);
    expect(() => parseWebhookUrl('https://user:pw@example.com/')).toThrow(WebhookTargetError);
    expect(() => parseWebhookUrl('example.com/hook')).toThrow(WebhookTargetError);
  });

  it('refuses literal private addresses without a DNS lookup, and allows them when configured', async () => {
    await expect(assertWebhookTarget('http://127.0.0.1:8080/x', false)).rejects.toThrow(WebhookTargetError);
    await expect(assertWebhookTarget('http://[fd00::5]/x', false)).rejects.toThrow(WebhookTargetError);
    await expect(assertWebhookTarget('http://93.184.216.34/x', false)).resolves.toBeInstanceOf(URL);
    await expect(assertWebhookTarget('http://127.0.0.1:8080/x', true)).resolves.toBeInstanceOf(URL);
  });

  it('refuses names that resolve to loopback', async () => {
    await expect(assertWebhookTarget('http://localhost:3000/x', false)).rejects.toThrow(WebhookTargetError);
  });
});

describe('webhook signatures', () => {
  const body = '{"success":true,"task_id":"t","status":"completed"}';

  it('is sha256=<hex HMAC-SHA256 of the raw body>', () => {
    const hex = createHmac('sha256', 'secret').update(body).digest('hex');
    expect(signWebhookBody(body, 'secret')).toBe(`sha256=${hex}`);
  });

  it('verifies only the exact body with the exact secret', () => {
    const header = signWebhookBody(body, 'secret');
    expect(verifyWebhookSignature(body, 'secret', header)).toBe(true);
    expect(verifyWebhookSignature(`${body} `, 'secret', header)).toBe(false);
    expect(verifyWebhookSignature(body, 'other', header)).toBe(false);
    expect(verifyWebhookSignature(body, 'secret', undefined)).toBe(false);
    expect(verifyWebhookSignature(body, 'secret', 'sha256=00')).toBe(false);
  });
});
