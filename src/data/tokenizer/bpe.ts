/**
 * Byte-level BPE (GPT-2 family): text → pre-tokenizer words → UTF-8 bytes → one symbol per
 * byte → merges applied lowest rank first (leftmost on ties), as HF tokenizers does.
 * Decoding concatenates token bytes, so encode/decode round-trips any UTF-8 text exactly.
 */
import { InputError } from '../../errors.ts';
import { byteToChar, symbolsToBytes, UTF8 } from './bytes.ts';
import { chainPreTokenizer, type PreTokenizer } from './pretokenize.ts';
import { bpeToTokenizerJson, parseBpeTokenizerJson, type TokenizerConfigJson } from './tokenizer-json.ts';
import type { SpecialTokens, Tokenizer } from './types.ts';

export interface AddedToken {
  readonly id: number;
  readonly content: string;
  /** Special tokens are matched in text only with allowSpecial and dropped by skipSpecial. */
  readonly special: boolean;
}

export type UnicodeNormalization = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/** Everything a byte-level BPE tokenizer is made of; tokenizer.json maps onto this. */
export interface BpeParts {
  /** token string (byte-level characters) → id */
  readonly vocab: ReadonlyMap<string, number>;
  /** in rank order; each pair's concatenation is a vocab token */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  readonly added: readonly AddedToken[];
  /** JS regex sources applied in turn (Split, Isolated); [GPT2_PATTERN] for plain ByteLevel. */
  readonly splitPatterns: readonly string[];
  readonly addPrefixSpace: boolean;
  readonly normalizers: readonly UnicodeNormalization[];
  /** Llama-3 style: a word that is itself a vocab token is emitted whole. */
  readonly ignoreMerges: boolean;
  readonly unkToken: string | null;
  readonly special: SpecialTokens;
  readonly chatTemplate: string | null;
  /** Whether prompts get BOS by default (Tokenizer.addBosByDefault); absent: when there is one. */
  readonly addBosDefault?: boolean;
  /** pre_tokenizer / normalizer JSON as loaded, written back unchanged (null: write the GPT-2 default). */
  readonly rawPreTokenizer: unknown;
  readonly rawNormalizer: unknown;
}

const PAIR_STRIDE = 4194304; // 2^22 > any vocab size in use; key = a * stride + b stays < 2^53

export class ByteLevelBpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  readonly chatTemplate: string | null;
  readonly addBosByDefault?: boolean;
  readonly parts: BpeParts;
  private readonly idToTok: (string | undefined)[] = [];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedIds = new Map<string, number>();
  private readonly byteIds: (number | undefined)[] = [];
  private readonly mergeOf = new Map<number, { rank: number; id: number }>();
  private readonly preTokenize: PreTokenizer;
  private readonly unkId: number | undefined;
  private readonly alwaysSplit: RegExp | null;
  private readonly specialSplit: RegExp | null;
  private cache = new Map<string, number[]>();

  constructor(parts: BpeParts) {
    this.parts = parts;
    this.special = parts.special;
    this.chatTemplate = parts.chatTemplate;
    if (parts.addBosDefault !== undefined) this.addBosByDefault = parts.addBosDefault;
    let maxId = -1;
    for (const [tok, id] of parts.vocab) {
      this.idToTok[id] = tok;
      maxId = Math.max(maxId, id);
    }
    for (const a of parts.added) {
      this.addedById.set(a.id, a);
      this.addedIds.set(a.content, a.id);
      this.idToTok[a.id] = a.content;
      maxId = Math.max(maxId, a.id);
    }
    this.vocabSize = maxId + 1;
    for (let b = 0; b < 256; b++) this.byteIds[b] = parts.vocab.get(byteToChar(b));
    parts.merges.forEach(([l, r], rank) => {
      const a = parts.vocab.get(l);
      const b = parts.vocab.get(r);
      const id = parts.vocab.get(l + r);
      if (a === undefined || b === undefined || id === undefined) throw new InputError(`BPE merge ${rank} ("${l}" "${r}") names a token missing from the vocabulary`);
      const key = a * PAIR_STRIDE + b;
      if (!this.mergeOf.has(key)) this.mergeOf.set(key, { rank, id });
    });
    this.preTokenize = chainPreTokenizer(parts.splitPatterns);
    this.unkId = parts.unkToken === null ? undefined : parts.vocab.get(parts.unkToken);
    this.alwaysSplit = alternation(parts.added.filter((a) => !a.special).map((a) => a.content));
    this.specialSplit = alternation(parts.added.map((a) => a.content));
  }

  /** From a decoded tokenizer.json (`file` names it in errors); `config` is tokenizer_config.json if any. */
  static fromTokenizerJson(obj: unknown, file: string, config: TokenizerConfigJson | null = null): ByteLevelBpeTokenizer {
    return new ByteLevelBpeTokenizer(parseBpeTokenizerJson(obj, file, config));
  }

  /** HF tokenizer.json object. */
  toTokenizerJson(): Record<string, unknown> {
    return bpeToTokenizerJson(this.parts);
  }

  encode(text: string, opts: { addBos?: boolean; allowSpecial?: boolean } = {}): number[] {
    const ids: number[] = [];
    if (opts.addBos) {
      if (this.special.bos === null) throw new InputError('encode: addBos was asked for, but this tokenizer has no bos token');
      ids.push(this.special.bos);
    }
    const splitter = opts.allowSpecial ? this.specialSplit : this.alwaysSplit;
    for (const [piece, isAdded] of splitOn(text, splitter)) {
      if (isAdded) {
        ids.push(this.addedByContent(piece));
        continue;
      }
      let t = piece;
      for (const form of this.parts.normalizers) t = t.normalize(form);
      if (this.parts.addPrefixSpace && !t.startsWith(' ')) t = ' ' + t;
      for (const word of this.preTokenize(t)) ids.push(...this.encodeWord(word));
    }
    return ids;
  }

  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      if (opts.skipSpecial && this.addedById.get(id)?.special) continue;
      const b = this.tokenBytes(id);
      chunks.push(b);
      total += b.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder('utf-8').decode(all);
  }

  idToToken(id: number): string | undefined {
    return this.idToTok[id];
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContentOrUndefined(token) ?? this.parts.vocab.get(token);
  }

  tokenBytes(id: number): Uint8Array {
    const added = this.addedById.get(id);
    if (added) return UTF8.encode(added.content);
    const tok = this.idToTok[id];
    if (tok === undefined) throw new InputError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return symbolsToBytes(tok);
  }

  /** BPE of one pre-token word: byte symbols, then repeatedly the lowest-rank adjacent pair (leftmost on ties). */
  private encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const bytes = UTF8.encode(word);
    let syms: number[] = [];
    if (this.parts.ignoreMerges) {
      let s = '';
      for (const b of bytes) s += byteToChar(b);
      const whole = this.parts.vocab.get(s);
      if (whole !== undefined) syms = [whole];
    }
    if (syms.length === 0) {
      for (const b of bytes) {
        const id = this.byteIds[b] ?? this.unkId;
        if (id !== undefined) syms.push(id);
      }
      mergeAll(syms, this.mergeOf);
    }
    if (this.cache.size > 50_000) this.cache = new Map();
    this.cache.set(word, syms);
    return syms;
  }

  private addedByContentOrUndefined(content: string): number | undefined {
    return this.addedIds.get(content);
  }

  private addedByContent(content: string): number {
    const id = this.addedByContentOrUndefined(content);
    if (id === undefined) throw new Error(`assertion failed: "${content}" split as an added token but is not one`);
    return id;
  }
}

/** In place: merge the lowest-rank adjacent pair until none has a rank. O(n²) per word, words are short. */
function mergeAll(syms: number[], mergeOf: ReadonlyMap<number, { rank: number; id: number }>): void {
  while (syms.length > 1) {
    let best = -1;
    let bestRank = Infinity;
    let bestId = -1;
    for (let i = 0; i + 1 < syms.length; i++) {
      const m = mergeOf.get(syms[i]! * PAIR_STRIDE + syms[i + 1]!);
      if (m !== undefined && m.rank < bestRank) {
        bestRank = m.rank;
        best = i;
        bestId = m.id;
      }
    }
    if (best < 0) return;
    syms.splice(best, 2, bestId);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regex matching any of `words`, longest first so "<|eos|>x" never loses to a prefix. */
function alternation(words: string[]): RegExp | null {
  if (words.length === 0) return null;
  const sorted = [...words].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegex).join('|'), 'gu');
}

/** Pieces of `text`: [piece, isAddedToken]. */
function splitOn(text: string, re: RegExp | null): [string, boolean][] {
  if (re === null) return text.length ? [[text, false]] : [];
  const out: [string, boolean][] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push([text.slice(last, m.index), false]);
    out.push([m[0], true]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push([text.slice(last), false]);
  return out;
}
