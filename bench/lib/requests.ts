import type { Target } from './load';
import { MODEL, type Peer } from './peers';

export const CHAT_PATH = '/v1/chat/completions';
export const QUEUE_PATH = '/api/v1/qcompletions';

const MESSAGES = [{ role: 'user', content: 'Say hello to the benchmark.' }];

/** The OpenAI chat request every peer gets, byte for byte. */
export function chatTarget(peer: Peer, stream: boolean, maxTokens: number): Target {
  return {
    baseUrl: peer.baseUrl,
    path: CHAT_PATH,
    headers: peer.headers,
    body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: maxTokens, stream }),
  };
}

/** Seed 000's queued completion request. */
export function queuedBody(maxTokens: number): string {
  return JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: maxTokens, temperature: 0.7 });
}
