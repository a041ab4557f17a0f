export { startFakeOllama } from './fake-ollama';
export { startFakeOpenAI } from './fake-openai';
export type { FakeHost, FakeHostOptions, FakeMode, FakeRequest, FakeToolCall } from './fake-host.types';
export { countWords } from './fake-usage';
