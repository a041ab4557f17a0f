/** A rough token count (~4 characters per token) for backends that report none. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
