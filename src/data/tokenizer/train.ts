/**
 * Byte-level BPE training. Text is pre-tokenized and only unique words are kept, with counts;
 * pair frequencies are counted once over those words, then each merge updates only the words
 * that contain the merged pair (an index pair → words), with a lazy max-heap of pair counts.
 * That keeps a few MB of text to a few seconds.
 *
 * Vocabulary layout: ids 0..255 are the byte tokens (id = byte value), then one id per merge
 * in merge order, then the special tokens.
 */
import { InputError } from '../../errors.ts';
import { ByteLevelBpeTokenizer, type AddedToken } from './bpe.ts';
import { byteToChar, UTF8 } from './bytes.ts';
import { gpt2PreTokenize, GPT2_PATTERN } from './pretokenize.ts';

export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<|bos|>', '<|eos|>', '<|pad|>'];

export interface TrainBpeOptions {
  /** Total vocabulary: 256 byte tokens + merges + special tokens. */
  vocabSize: number;
  specialTokens?: readonly string[];
  /** A pair seen fewer times than this is never merged (default 2); the vocab may then end smaller. */
  minFrequency?: number;
}

const STRIDE = 4194304; // pair key = a * 2^22 + b

/** Feeds text incrementally (for streamed corpora); `finish()` runs the merges. */
export class BpeTrainer {
  private readonly words = new Map<string, number>();
  private readonly opts: Required<TrainBpeOptions>;

  constructor(opts: TrainBpeOptions) {
    const specialTokens = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
    const minimum = 256 + specialTokens.length;
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < minimum) {
      throw new InputError(`vocab size ${opts.vocabSize} is too small: a byte-level BPE vocabulary needs at least ${minimum} (256 byte tokens + ${specialTokens.length} special tokens)`);
    }
    if (new Set(specialTokens).size !== specialTokens.length) throw new InputError(`special tokens must be distinct, got ${JSON.stringify(specialTokens)}`);
    if (opts.vocabSize >= STRIDE) throw new InputError(`vocab size ${opts.vocabSize} is too large (limit ${STRIDE - 1})`);
    this.opts = { vocabSize: opts.vocabSize, specialTokens, minFrequency: opts.minFrequency ?? 2 };
  }

  feed(text: string): void {
    for (const w of gpt2PreTokenize(text)) this.words.set(w, (this.words.get(w) ?? 0) + 1);
  }

  /** Number of distinct pre-token words seen so far. */
  get uniqueWords(): number {
    return this.words.size;
  }

  finish(): ByteLevelBpeTokenizer {
    const tokens: string[] = [];
    const vocab = new Map<string, number>();
    for (let b = 0; b < 256; b++) {
      tokens.push(byteToChar(b));
      vocab.set(byteToChar(b), b);
    }
    const merges = learnMerges([...this.words], this.opts.vocabSize - this.opts.specialTokens.length, this.opts.minFrequency, tokens, vocab);
    const added: AddedToken[] = this.opts.specialTokens.map((content) => {
      const id = tokens.length;
      tokens.push(content);
      vocab.set(content, id);
      return { id, content, special: true };
    });
    const idOf = (s: string): number | null => vocab.get(s) ?? null;
    return new ByteLevelBpeTokenizer({
      vocab,
      merges,
      added,
      splitPatterns: [GPT2_PATTERN],
      addPrefixSpace: false,
      normalizers: [],
      ignoreMerges: false,
      unkToken: null,
      special: { bos: idOf('<|bos|>'), eos: idOf('<|eos|>'), pad: idOf('<|pad|>') },
      chatTemplate: null,
      rawPreTokenizer: null,
      rawNormalizer: null,
    });
  }
}

/** Train a byte-level BPE tokenizer on one text or a sequence of texts (documents). */
export function trainBpe(input: string | Iterable<string>, opts: TrainBpeOptions): ByteLevelBpeTokenizer {
  const t = new BpeTrainer(opts);
  if (typeof input === 'string') t.feed(input);
  else for (const s of input) t.feed(s);
  return t.finish();
}

/** Max-heap of [count, key], ordered by count desc then key asc (deterministic ties). */
class PairHeap {
  private readonly c: number[] = [];
  private readonly k: number[] = [];
  get size(): number {
    return this.c.length;
  }
  private above(i: number, j: number): boolean {
    return this.c[i]! > this.c[j]! || (this.c[i] === this.c[j] && this.k[i]! < this.k[j]!);
  }
  private swap(i: number, j: number): void {
    [this.c[i], this.c[j]] = [this.c[j]!, this.c[i]!];
    [this.k[i], this.k[j]] = [this.k[j]!, this.k[i]!];
  }
  push(count: number, key: number): void {
    this.c.push(count);
    this.k.push(key);
    for (let i = this.c.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.c[0]!, this.k[0]!];
    const lc = this.c.pop()!;
    const lk = this.k.pop()!;
    if (this.c.length > 0) {
      this.c[0] = lc;
      this.k[0] = lk;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.c.length && this.above(l, m)) m = l;
        if (r < this.c.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Runs merges until `tokens` holds `target` entries (or no pair reaches minFrequency); mutates tokens/vocab. */
function learnMerges(entries: [string, number][], target: number, minFrequency: number, tokens: string[], vocab: Map<string, number>): [string, string][] {
  const words: number[][] = entries.map(([w]) => Array.from(UTF8.encode(w)));
  const counts = entries.map(([, c]) => c);
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  words.forEach((syms, w) => {
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i]! * STRIDE + syms[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + counts[w]!);
      let s = pairWords.get(key);
      if (!s) pairWords.set(key, (s = new Set()));
      s.add(w);
    }
  });
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  const merges: [string, string][] = [];
  while (tokens.length < target && heap.size > 0) {
    const [stored, key] = heap.pop();
    const actual = pairCount.get(key) ?? 0;
    if (actual !== stored) {
      if (actual > 0) heap.push(actual, key); // stale entry: its count went down since
      continue;
    }
    if (actual < minFrequency) break;
    const a = Math.floor(key / STRIDE);
    const b = key - a * STRIDE;
    const merged = tokens[a]! + tokens[b]!;
    let id = vocab.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      vocab.set(merged, id);
    }
    merges.push([tokens[a]!, tokens[b]!]);
    // Re-count only the words that hold (a, b): remove their pairs, merge, add them back.
    const delta = new Map<number, number>();
    for (const w of pairWords.get(key) ?? []) {
      const syms = words[w]!;
      const n = counts[w]!;
      let has = false;
      for (let i = 0; i + 1 < syms.length; i++) if (syms[i] === a && syms[i + 1] === b) has = true;
      if (!has) continue;
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = syms[i]! * STRIDE + syms[i + 1]!;
        delta.set(k, (delta.get(k) ?? 0) - n);
      }
      const out: number[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(syms[i]!);
      }
      words[w] = out;
      for (let i = 0; i + 1 < out.length; i++) {
        const k = out[i]! * STRIDE + out[i + 1]!;
        delta.set(k, (delta.get(k) ?? 0) + n);
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, (s = new Set()));
        s.add(w);
      }
    }
    pairWords.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c > 0) pairCount.set(k, c);
      else pairCount.delete(k);
      if (d > 0) heap.push(c, k);
    }
  }
  return merges;
}
