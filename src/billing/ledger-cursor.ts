import { ApiError } from '../common/api-error';

/** Opaque ledger cursor: the id of the last entry of a page, base64url-encoded. */
export function encodeLedgerCursor(entryId: string): string {
  return Buffer.from(`l:${entryId}`).toString('base64url');
}

export function decodeLedgerCursor(cursor: string): string {
  const match = /^l:([1-9][0-9]{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1]) throw new ApiError('invalid_request', 'cursor: invalid cursor', 'cursor');
  return match[1];
}
