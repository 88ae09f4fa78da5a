/**
 * Character-level tokenizer over a fixed alphabet: one id per character (code point), plus
 * special tokens. The synthetic tasks use it: a vocabulary of ~40 instead of ~260+ makes the
 * embedding and output layers tiny and addition learnable in minutes.
 *
 * Saved as HF tokenizer.json with model BPE, no merges, no pre-tokenizer and a Fuse decoder,
 * which HF tokenizers (Rust and JS) load: BPE with no merges splits a word into characters.
 * Layout: ids 0..S-1 are the special tokens (pad, bos, eos by default), then the alphabet.
 */
import { FormatError, InputError } from '../../errors.ts';
import { UTF8 } from './bytes.ts';
import { addedTokensJson, expectObject, parseAddedTokens, parseVocab, resolveSpecials } from './tokenizer-json.ts';
import type { SpecialTokens, Tokenizer } from './types.ts';

export const CHAR_SPECIAL_TOKENS: readonly string[] = ['<|pad|>', '<|bos|>', '<|eos|>'];

export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  readonly chatTemplate: string | null = null;
  private readonly tokens: string[];
  private readonly ids = new Map<string, number>();
  private readonly specialIds: Set<number>;
  private readonly specialSplit: RegExp | null;

  /** `tokens[id]` is the token; `specialTokens` lists which of them are special (multi-character allowed). */
  constructor(tokens: readonly string[], specialTokens: readonly string[]) {
    this.tokens = [...tokens];
    tokens.forEach((t, id) => {
      if (this.ids.has(t)) throw new InputError(`CharTokenizer: token ${JSON.stringify(t)} appears twice (ids ${this.ids.get(t)} and ${id})`);
      this.ids.set(t, id);
    });
    const specials = new Set(specialTokens);
    for (const s of specials) if (!this.ids.has(s)) throw new InputError(`CharTokenizer: special token ${JSON.stringify(s)} is not among the tokens`);
    for (const t of tokens) {
      if (!specials.has(t) && [...t].length !== 1) throw new InputError(`CharTokenizer: token ${JSON.stringify(t)} is not a single character`);
    }
    this.specialIds = new Set([...specials].map((s) => this.ids.get(s)!));
    this.vocabSize = tokens.length;
    this.special = resolveSpecials((s) => (specials.has(s) ? this.ids.get(s) : undefined), null);
    const sorted = [...specials].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.specialSplit = sorted.length ? new RegExp(sorted.join('|'), 'gu') : null;
  }

  /** Special tokens first (pad, bos, eos), then each distinct character of `alphabet` in order. */
  static fromAlphabet(alphabet: string, specialTokens: readonly string[] = CHAR_SPECIAL_TOKENS): CharTokenizer {
    const chars = [...new Set(alphabet)];
    return new CharTokenizer([...specialTokens, ...chars], specialTokens);
  }

  static fromTokenizerJson(obj: unknown, file: string): CharTokenizer {
    const root = expectObject(obj, file, '');
    const model = expectObject(root.model, file, 'model');
    if (Array.isArray(model.merges) && model.merges.length > 0) throw new FormatError(file, `model.merges: a character tokenizer has no merges, found ${model.merges.length}`);
    const vocab = parseVocab(model.vocab, file);
    const added = parseAddedTokens(root.added_tokens, file);
    const tokens: string[] = [];
    for (const [t, id] of vocab) tokens[id] = t;
    for (const a of added) tokens[a.id] = a.content;
    for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined) throw new FormatError(file, `model.vocab: no token has id ${i} (ids must be 0..${tokens.length - 1})`);
    for (const [t] of vocab) {
      if ([...t].length !== 1 && !added.some((a) => a.content === t)) throw new FormatError(file, `model.vocab[${JSON.stringify(t)}]: a character tokenizer's tokens are single characters`);
    }
    return new CharTokenizer(tokens, added.filter((a) => a.special).map((a) => a.content));
  }

  encode(text: string, opts: { addBos?: boolean; allowSpecial?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.addBos) {
      if (this.special.bos === null) throw new InputError('encode: addBos was asked for, but this tokenizer has no bos token');
      out.push(this.special.bos);
    }
    const re = opts.allowSpecial ? this.specialSplit : null;
    let last = 0;
    const plain = (end: number): void => {
      for (let i = last; i < end; ) {
        const ch = String.fromCodePoint(text.codePointAt(i)!);
        const id = this.ids.get(ch);
        if (id === undefined || this.specialIds.has(id)) {
          throw new InputError(`CharTokenizer: character ${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at offset ${i} is not in the vocabulary`);
        }
        out.push(id);
        i += ch.length;
      }
    };
    if (re) {
      for (const m of text.matchAll(re)) {
        plain(m.index);
        out.push(this.ids.get(m[0])!);
        last = m.index + m[0].length;
      }
    }
    plain(text.length);
    return out;
  }

  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    let s = '';
    for (const id of ids) {
      if (opts.skipSpecial && this.specialIds.has(id)) continue;
      const t = this.tokens[id];
      if (t === undefined) throw new InputError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      s += t;
    }
    return s;
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  tokenBytes(id: number): Uint8Array {
    const t = this.tokens[id];
    if (t === undefined) throw new InputError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return UTF8.encode(t);
  }

  toTokenizerJson(): Record<string, unknown> {
    const vocab: Record<string, number> = {};
    this.tokens.forEach((t, id) => (vocab[t] = id));
    const added = this.tokens.flatMap((content, id) => (this.specialIds.has(id) ? [{ id, content, special: true }] : []));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokensJson(added),
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Fuse' },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
    };
  }
}
