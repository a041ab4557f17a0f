import type { CompletionRequest } from '../completions/completion.types';

/** Numeric request fields a backend may accept. */
export type NumericField =
  'maxTokens' | 'temperature' | 'topP' | 'seed' | 'frequencyPenalty' | 'presencePenalty' | 'numContext' | 'n';

/** One row of a provider's declarative parameter table (Portkey style). */
export interface ParamSpec {
  /** The CompletionRequest field it comes from. */
  from: NumericField;
  /** The backend's wire name. */
  name: string;
  /** Sent when the request leaves the field unset; unset and no default = not sent. */
  default?: number;
  /** The backend's accepted range; values outside are clamped. */
  min?: number;
  max?: number;
  integer?: boolean;
}

export type ParamTable = readonly ParamSpec[];

/** The wire parameters for a request: present or defaulted fields, clamped to each backend range. */
export function mapParams(table: ParamTable, request: CompletionRequest): Record<string, number> {
  const wire: Record<string, number> = {};
  for (const spec of table) {
    const given = request[spec.from];
    const value = typeof given === 'number' && Number.isFinite(given) ? given : spec.default;
    if (value === undefined) continue;
    let clamped = Math.min(spec.max ?? Infinity, Math.max(spec.min ?? -Infinity, value));
    if (spec.integer) clamped = Math.trunc(clamped);
    wire[spec.name] = clamped;
  }
  return wire;
}
