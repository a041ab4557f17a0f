import type { ParamTable } from '../param-table';

/** CompletionRequest → Ollama `options` (https://docs.ollama.com/modelfile#valid-parameters-and-values). */
export const OLLAMA_OPTIONS: ParamTable = [
  { from: 'maxTokens', name: 'num_predict', min: 1, integer: true },
  { from: 'numContext', name: 'num_ctx', min: 1, max: 1_048_576, integer: true },
  { from: 'temperature', name: 'temperature', min: 0, max: 2 },
  { from: 'topP', name: 'top_p', min: 0, max: 1 },
  { from: 'seed', name: 'seed', integer: true },
  { from: 'frequencyPenalty', name: 'frequency_penalty', min: -2, max: 2 },
  { from: 'presencePenalty', name: 'presence_penalty', min: -2, max: 2 },
];
