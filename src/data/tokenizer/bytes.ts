/**
 * GPT-2's byte-to-unicode table: each of the 256 byte values gets a printable character, so a
 * byte-level token is a plain string in tokenizer.json. Printable Latin-1 bytes map to
 * themselves; the rest (controls, space, 0x7f-0xa0, 0xad) map to U+0100 upward, in byte order.
 * Space (0x20) becomes 'Ġ' (U+0120), newline 'Ċ' (U+010A).
 */
const BYTE_TO_CHAR: string[] = [];
const CHAR_TO_BYTE = new Map<number, number>();

(function build(): void {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const cp = printable(b) ? b : 256 + extra++;
    BYTE_TO_CHAR[b] = String.fromCharCode(cp);
    CHAR_TO_BYTE.set(cp, b);
  }
})();

/** The character standing for byte `b` (0..255). */
export function byteToChar(b: number): string {
  return BYTE_TO_CHAR[b]!;
}

/** Byte-level string of raw bytes: one character per byte. */
export function bytesToSymbols(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!]!;
  return s;
}

/**
 * Raw bytes of a byte-level string. A character outside the table (possible in a hand-written
 * HF vocab) contributes its own UTF-8 bytes, so decoding never loses text.
 */
export function symbolsToBytes(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const b = CHAR_TO_BYTE.get(ch.codePointAt(0)!);
    if (b !== undefined) out.push(b);
    else for (const x of UTF8.encode(ch)) out.push(x);
  }
  return Uint8Array.from(out);
}

/** Whether every character of `s` is in the byte table. */
export function isByteLevel(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!CHAR_TO_BYTE.has(s.charCodeAt(i))) return false;
  return true;
}

export const UTF8 = new TextEncoder();
