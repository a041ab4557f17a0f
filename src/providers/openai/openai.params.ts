import type { ParamTable } from '../param-table';

/** CompletionRequest → OpenAI-compatible body fields (chat and text completions alike). */
export const OPENAI_PARAMS: ParamTable = [
  { from: 'maxTokens', name: 'max_tokens', min: 1, integer: true },
  { from: 'temperature', name: 'temperature', min: 0, max: 2 },
  { from: 'topP', name: 'top_p', min: 0, max: 1 },
  { from: 'seed', name: 'seed', integer: true },
  { from: 'frequencyPenalty', name: 'frequency_penalty', min: -2, max: 2 },
  { from: 'presencePenalty', name: 'presence_penalty', min: -2, max: 2 },
  { from: 'n', name: 'n', min: 1, max: 128, integer: true },
];
