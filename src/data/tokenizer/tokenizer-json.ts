/**
 * HF tokenizer.json ⇄ BpeParts for byte-level BPE. Supported on load: model BPE (merges as
 * "a b" strings or [["a","b"]] pairs), pre_tokenizer ByteLevel or Sequence[Split…, ByteLevel]
 * (Llama-3 / Qwen style), normalizer null / NFC / NFKC / NFD / NFKD / Sequence of those,
 * added_tokens. Every problem is a FormatError naming the file and the JSON path.
 */
import { FormatError } from '../../errors.ts';
import type { AddedToken, BpeParts, UnicodeNormalization } from './bpe.ts';
import { GPT2_PATTERN, translateOnigurumaPattern } from './pretokenize.ts';
import type { SpecialTokens } from './types.ts';

/** tokenizer_config.json fields we use (all optional). */
export interface TokenizerConfigJson {
  chat_template?: unknown;
  bos_token?: unknown;
  eos_token?: unknown;
  pad_token?: unknown;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function expectObject(v: unknown, file: string, path: string): Obj {
  if (!isObj(v)) throw new FormatError(file, `${path || '(root)'}: expected an object, got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string ${JSON.stringify(v.slice(0, 40))}` : typeof v;
}

/** added_tokens → AddedToken[] (validated). */
export function parseAddedTokens(v: unknown, file: string): AddedToken[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new FormatError(file, `added_tokens: expected an array, got ${describe(v)}`);
  return v.map((t, i) => {
    const o = expectObject(t, file, `added_tokens[${i}]`);
    if (!Number.isInteger(o.id) || (o.id as number) < 0) throw new FormatError(file, `added_tokens[${i}].id: expected a non-negative integer, got ${describe(o.id)}`);
    if (typeof o.content !== 'string' || o.content === '') throw new FormatError(file, `added_tokens[${i}].content: expected a non-empty string, got ${describe(o.content)}`);
    return { id: o.id as number, content: o.content, special: o.special === true };
  });
}

/** model.vocab → Map, checking ids are distinct non-negative integers. */
export function parseVocab(v: unknown, file: string): Map<string, number> {
  const o = expectObject(v, file, 'model.vocab');
  const vocab = new Map<string, number>();
  const seen = new Map<number, string>();
  for (const [tok, id] of Object.entries(o)) {
    const path = `model.vocab[${JSON.stringify(tok)}]`;
    if (!Number.isInteger(id) || (id as number) < 0) throw new FormatError(file, `${path}: expected a non-negative integer id, got ${describe(id)}`);
    const prev = seen.get(id as number);
    if (prev !== undefined) throw new FormatError(file, `${path}: id ${id} is already used by ${JSON.stringify(prev)}`);
    seen.set(id as number, tok);
    vocab.set(tok, id as number);
  }
  return vocab;
}

function parseMerges(v: unknown, vocab: ReadonlyMap<string, number>, file: string): [string, string][] {
  if (!Array.isArray(v)) throw new FormatError(file, `model.merges: expected an array, got ${describe(v)}`);
  return v.map((m, i) => {
    const path = `model.merges[${i}]`;
    let pair: [string, string];
    if (typeof m === 'string') {
      const sp = m.indexOf(' ');
      if (sp <= 0 || sp === m.length - 1) throw new FormatError(file, `${path}: expected "left right", got ${JSON.stringify(m)}`);
      pair = [m.slice(0, sp), m.slice(sp + 1)];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      pair = [m[0], m[1]];
    } else throw new FormatError(file, `${path}: expected "left right" or ["left", "right"], got ${describe(m)}`);
    for (const [k, t] of [[0, pair[0]], [1, pair[1]], [-1, pair[0] + pair[1]]] as const) {
      if (!vocab.has(t)) throw new FormatError(file, `${path}${k >= 0 ? `[${k}]` : ''}: token ${JSON.stringify(t)} is not in model.vocab`);
    }
    return pair;
  });
}

function parsePreTokenizer(v: unknown, file: string): { patterns: string[]; addPrefixSpace: boolean } {
  const o = expectObject(v, file, 'pre_tokenizer');
  if (o.type === 'ByteLevel') return { patterns: o.use_regex === false ? [] : [GPT2_PATTERN], addPrefixSpace: o.add_prefix_space === true };
  if (o.type !== 'Sequence') throw new FormatError(file, `pre_tokenizer.type: ${JSON.stringify(o.type)} is not supported for byte-level BPE (expected "ByteLevel" or "Sequence")`);
  if (!Array.isArray(o.pretokenizers)) throw new FormatError(file, `pre_tokenizer.pretokenizers: expected an array, got ${describe(o.pretokenizers)}`);
  const patterns: string[] = [];
  let sawByteLevel = false;
  let addPrefixSpace = false;
  o.pretokenizers.forEach((p, i) => {
    const path = `pre_tokenizer.pretokenizers[${i}]`;
    const q = expectObject(p, file, path);
    if (q.type === 'ByteLevel') {
      sawByteLevel = true;
      addPrefixSpace = q.add_prefix_space === true;
      if (q.use_regex !== false) patterns.push(GPT2_PATTERN);
    } else if (q.type === 'Split') {
      const pat = expectObject(q.pattern, file, `${path}.pattern`);
      const src = typeof pat.Regex === 'string' ? translateOnigurumaPattern(pat.Regex) : typeof pat.String === 'string' ? pat.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : null;
      if (src === null) throw new FormatError(file, `${path}.pattern: cannot use ${JSON.stringify(q.pattern)} as a JavaScript regex`);
      if (q.behavior !== undefined && q.behavior !== 'Isolated') throw new FormatError(file, `${path}.behavior: only "Isolated" is supported, got ${JSON.stringify(q.behavior)}`);
      if (q.invert === true) throw new FormatError(file, `${path}.invert: inverted splits are not supported`);
      patterns.push(src);
    } else if (q.type === 'Digits') {
      patterns.push(q.individual_digits === true ? String.raw`\p{N}` : String.raw`\p{N}+`);
    } else {
      throw new FormatError(file, `${path}.type: ${JSON.stringify(q.type)} is not supported (expected "Split" or "ByteLevel")`);
    }
  });
  if (!sawByteLevel) throw new FormatError(file, 'pre_tokenizer.pretokenizers: no ByteLevel step, so this is not a byte-level BPE tokenizer');
  return { patterns, addPrefixSpace };
}

function parseNormalizer(v: unknown, file: string, path = 'normalizer'): UnicodeNormalization[] {
  if (v === null || v === undefined) return [];
  const o = expectObject(v, file, path);
  if (o.type === 'NFC' || o.type === 'NFD' || o.type === 'NFKC' || o.type === 'NFKD') return [o.type];
  if (o.type === 'Sequence' && Array.isArray(o.normalizers)) return o.normalizers.flatMap((n, i) => parseNormalizer(n, file, `${path}.normalizers[${i}]`));
  throw new FormatError(file, `${path}.type: ${JSON.stringify(o.type)} is not supported (expected null, NFC, NFD, NFKC, NFKD or Sequence)`);
}

/** A special token named in tokenizer_config.json: a string or { content }. */
function configToken(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.content === 'string') return v.content;
  return null;
}

const CANDIDATES = {
  bos: ['<|bos|>', '<s>', '<|begin_of_text|>', '<|startoftext|>', '<bos>'],
  eos: ['<|eos|>', '</s>', '<|end_of_text|>', '<|endoftext|>', '<eos>'],
  pad: ['<|pad|>', '<pad>', '[PAD]'],
};

/** bos/eos/pad ids: from tokenizer_config.json when given, else by the usual names. */
export function resolveSpecials(idOf: (s: string) => number | undefined, config: TokenizerConfigJson | null): SpecialTokens {
  const pick = (kind: keyof typeof CANDIDATES): number | null => {
    const named = configToken(config?.[`${kind}_token`]);
    if (named !== null) return idOf(named) ?? null;
    for (const c of CANDIDATES[kind]) {
      const id = idOf(c);
      if (id !== undefined) return id;
    }
    return null;
  };
  return { bos: pick('bos'), eos: pick('eos'), pad: pick('pad') };
}

/** Parse a byte-level BPE tokenizer.json object (already JSON-decoded). */
export function parseBpeTokenizerJson(root: unknown, file: string, config: TokenizerConfigJson | null = null): BpeParts {
  const o = expectObject(root, file, '');
  const model = expectObject(o.model, file, 'model');
  if (model.type !== undefined && model.type !== 'BPE') throw new FormatError(file, `model.type: expected "BPE", got ${JSON.stringify(model.type)}`);
  const vocab = parseVocab(model.vocab, file);
  const merges = parseMerges(model.merges ?? [], vocab, file);
  const added = parseAddedTokens(o.added_tokens, file);
  const pre = parsePreTokenizer(o.pre_tokenizer, file);
  const unk = model.unk_token;
  if (unk !== undefined && unk !== null && typeof unk !== 'string') throw new FormatError(file, `model.unk_token: expected a string or null, got ${describe(unk)}`);
  const idOf = (s: string): number | undefined => added.find((a) => a.content === s)?.id ?? vocab.get(s);
  const template = config?.chat_template;
  return {
    vocab,
    merges,
    added,
    splitPatterns: pre.patterns,
    addPrefixSpace: pre.addPrefixSpace,
    normalizers: parseNormalizer(o.normalizer, file),
    ignoreMerges: model.ignore_merges === true,
    unkToken: typeof unk === 'string' ? unk : null,
    special: resolveSpecials(idOf, config),
    chatTemplate: typeof template === 'string' ? template : null,
    rawPreTokenizer: o.pre_tokenizer,
    rawNormalizer: o.normalizer ?? null,
  };
}

export function addedTokensJson(added: readonly AddedToken[]): Obj[] {
  return added.map((a) => ({ id: a.id, content: a.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: a.special }));
}

/** The tokenizer.json object for BpeParts (HF's layout; merges in the [["a","b"]] form). */
export function bpeToTokenizerJson(p: BpeParts): Obj {
  const vocab: Obj = {};
  for (const [tok, id] of [...p.vocab].sort((x, y) => x[1] - y[1])) vocab[tok] = id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokensJson(p.added),
    normalizer: p.rawNormalizer ?? null,
    pre_tokenizer: p.rawPreTokenizer ?? { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: p.unkToken,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: p.ignoreMerges,
      vocab,
      merges: p.merges.map(([a, b]) => [a, b]),
    },
  };
}
