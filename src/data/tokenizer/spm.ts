import { InputError } from '../../errors.ts';
import type { SpecialTokens, Tokenizer } from './types.ts';

/** SentencePiece token kinds, as GGUF's tokenizer.ggml.token_type numbers them. */
export const SpmTokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SpmVocab {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  readonly types: readonly number[];
  readonly special: SpecialTokens;
  readonly unk: number | null;
  /** Prepend "▁" to the text (SentencePiece's add_dummy_prefix); true for Llama 1/2. */
  readonly addSpacePrefix: boolean;
  /** Whether encode() adds BOS unless told otherwise. */
  readonly addBosDefault: boolean;
  readonly chatTemplate: string | null;
}

const SPACE = '\u2581'; // "▁" stands for a space inside pieces
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

interface Sym { text: string; prev: number; next: number }
interface Bigram { left: number; right: number; score: number; text: string }

/**
 * A SentencePiece BPE tokenizer ("llama" kind in GGUF). Encoding merges, over and over, the
 * adjacent pair of pieces whose concatenation is in the vocabulary with the highest score (ties:
 * the leftmost), starting from single characters. A final piece that is not a token is split back
 * along the merges that made it, and characters with no token become byte tokens <0xNN>.
 */
export class SpmTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  readonly chatTemplate: string | null;
  private readonly ids = new Map<string, number>();
  private readonly byteIds = new Map<number, number>();
  private readonly byteOf = new Map<number, number>();
  /** Control / user-defined tokens matched as whole strings when allowSpecial, longest first. */
  private readonly specials: { text: string; id: number }[];

  /** tokenizer.ggml.add_bos_token (llama.cpp's default for SentencePiece: true). */
  get addBosByDefault(): boolean {
    return this.v.addBosDefault;
  }

  constructor(private readonly v: SpmVocab) {
    const n = v.tokens.length;
    if (v.scores.length !== n || v.types.length !== n) {
      throw new InputError(`SpmTokenizer: ${n} tokens but ${v.scores.length} scores and ${v.types.length} token types`);
    }
    this.vocabSize = n;
    this.special = v.special;
    this.chatTemplate = v.chatTemplate;
    v.tokens.forEach((t, id) => {
      const type = v.types[id];
      const m = BYTE_TOKEN.exec(t);
      if (type === SpmTokenType.BYTE && m) {
        this.byteIds.set(parseInt(m[1]!, 16), id);
        this.byteOf.set(id, parseInt(m[1]!, 16));
      } else if (!this.ids.has(t)) this.ids.set(t, id);
    });
    this.specials = v.tokens
      .map((text, id) => ({ text, id }))
      .filter(({ id, text }) => text.length > 0 && (v.types[id] === SpmTokenType.CONTROL || v.types[id] === SpmTokenType.USER_DEFINED))
      .sort((a, b) => b.text.length - a.text.length);
  }

  encode(text: string, opts: { addBos?: boolean; allowSpecial?: boolean } = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.v.addBosDefault) && this.special.bos !== null) out.push(this.special.bos);
    let prevSpecial = true; // the first text fragment gets the space prefix, as after a special token
    for (const frag of this.splitSpecial(text, opts.allowSpecial ?? false)) {
      if (typeof frag === 'number') {
        out.push(frag);
        prevSpecial = true;
        continue;
      }
      const prefixed = (this.v.addSpacePrefix && prevSpecial ? ' ' : '') + frag;
      out.push(...this.encodeText(prefixed.replaceAll(' ', SPACE)));
      prevSpecial = false;
    }
    return out;
  }

  /** Text pieces and special-token ids, in order. */
  private splitSpecial(text: string, allow: boolean): (string | number)[] {
    if (!allow || this.specials.length === 0) return text ? [text] : [];
    const out: (string | number)[] = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const hit = this.specials.find((s) => text.startsWith(s.text, i));
      if (!hit) { i++; continue; }
      if (i > start) out.push(text.slice(start, i));
      out.push(hit.id);
      i += hit.text.length;
      start = i;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }

  private encodeText(text: string): number[] {
    const chars = Array.from(text); // code points, not UTF-16 units
    const syms: Sym[] = chars.map((ch, i) => ({ text: ch, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1 }));
    const queue: Bigram[] = [];
    const merges = new Map<string, [string, string]>();
    const tryPair = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const joined = syms[left]!.text + syms[right]!.text;
      const id = this.ids.get(joined);
      if (id === undefined) return;
      heapPush(queue, { left, right, score: this.v.scores[id]!, text: joined });
      merges.set(joined, [syms[left]!.text, syms[right]!.text]);
    };
    for (let i = 1; i < syms.length; i++) tryPair(i - 1, i);
    while (queue.length > 0) {
      const bg = heapPop(queue);
      const l = syms[bg.left]!;
      const r = syms[bg.right]!;
      // Stale: one side was merged away or grew since this pair was queued.
      if (l.text.length === 0 || r.text.length === 0 || l.text + r.text !== bg.text || l.next !== bg.right) continue;
      l.text = bg.text;
      r.text = '';
      l.next = r.next;
      if (r.next >= 0) syms[r.next]!.prev = bg.left;
      tryPair(l.prev, bg.left);
      tryPair(bg.left, l.next);
    }
    const out: number[] = [];
    for (let i = syms.length > 0 ? 0 : -1; i >= 0; i = syms[i]!.next) this.resegment(syms[i]!.text, merges, out);
    return out;
  }

  private resegment(text: string, merges: Map<string, [string, string]>, out: number[]): void {
    const id = this.ids.get(text);
    if (id !== undefined) { out.push(id); return; }
    const parts = merges.get(text);
    if (parts) {
      this.resegment(parts[0], merges, out);
      this.resegment(parts[1], merges, out);
      return;
    }
    for (const b of new TextEncoder().encode(text)) {
      const bid = this.byteIds.get(b) ?? this.v.unk;
      if (bid === null) throw new InputError(`SpmTokenizer: byte 0x${b.toString(16)} has no byte token and there is no unknown token`);
      out.push(bid);
    }
  }

  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    const chunks: Uint8Array[] = [];
    let first = true;
    for (const id of ids) {
      const type = this.v.types[id];
      if (opts.skipSpecial && (type === SpmTokenType.CONTROL || type === SpmTokenType.UNKNOWN)) continue;
      if (type === SpmTokenType.CONTROL && id === this.special.bos) continue; // BOS has no text
      let bytes = this.tokenBytes(id);
      // SentencePiece drops the space that add_dummy_prefix put before the first piece.
      if (first && this.v.addSpacePrefix && bytes[0] === 0x20) bytes = bytes.subarray(1);
      first = false;
      chunks.push(bytes);
    }
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) { all.set(c, at); at += c.length; }
    return new TextDecoder().decode(all);
  }

  idToToken(id: number): string | undefined {
    return this.v.tokens[id];
  }

  tokenBytes(id: number): Uint8Array {
    const b = this.byteOf.get(id);
    if (b !== undefined) return Uint8Array.of(b);
    const t = this.v.tokens[id];
    if (t === undefined) throw new InputError(`SpmTokenizer: token id ${id} is outside the vocabulary of ${this.vocabSize}`);
    return new TextEncoder().encode(t.replaceAll(SPACE, ' '));
  }
}

/** Pair a ranks before pair b: higher score, then leftmost. */
function before(a: Bigram, b: Bigram): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

function heapPush(h: Bigram[], x: Bigram): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!before(h[i]!, h[p]!)) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

function heapPop(h: Bigram[]): Bigram {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
  return top;
}
