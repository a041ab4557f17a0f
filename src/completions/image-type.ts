/** The image formats vision backends (Ollama, vLLM, llama.cpp) read, told by their first bytes. */
const SIGNATURES: { mime: string; at: number; bytes: number[] }[] = [
  { mime: 'image/png', at: 0, bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { mime: 'image/jpeg', at: 0, bytes: [0xff, 0xd8, 0xff] },
  { mime: 'image/gif', at: 0, bytes: [0x47, 0x49, 0x46, 0x38] },
  // RIFF....WEBP
  { mime: 'image/webp', at: 8, bytes: [0x57, 0x45, 0x42, 0x50] },
];

/**
 * The image type of `bytes` by its signature, never by a file name or a declared type; undefined
 * when it is none of PNG, JPEG, GIF, WebP.
 */
export function imageTypeOf(bytes: Uint8Array): string | undefined {
  for (const { mime, at, bytes: signature } of SIGNATURES) {
    if (bytes.length < at + signature.length) continue;
    if (signature.every((b, i) => bytes[at + i] === b)) {
      if (mime === 'image/webp' && !(bytes[0] === 0x52 && bytes[1] === 0x49)) continue;
      return mime;
    }
  }
  return undefined;
}

/** The same for base64 text (only its first bytes are decoded). */
export function imageTypeOfBase64(b64: string): string | undefined {
  return imageTypeOf(Buffer.from(b64.slice(0, 24), 'base64'));
}
