/** Who is calling: attached to the request by the ApiKeyGuard. */
export interface Principal {
  userId: string;
  keyId: string;
  role: 'user' | 'admin';
  /** Models this key may use; empty = all. */
  allowedModels: string[];
  /** Per-key limits; null = none. */
  rpm: number | null;
  tpm: number | null;
}

export type RequestWithPrincipal = import('express').Request & { principal?: Principal };
