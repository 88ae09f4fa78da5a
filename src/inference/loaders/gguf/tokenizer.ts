import { FormatError } from '../../../errors.ts';
import { ByteLevelBpeTokenizer } from '../../../data/tokenizer/bpe.ts';
import type { AddedToken } from '../../../data/tokenizer/bpe.ts';
import { SpmTokenizer, SpmTokenType } from '../../../data/tokenizer/spm.ts';
import type { SpecialTokens, Tokenizer } from '../../../data/tokenizer/types.ts';
import type { GgufValue } from './reader.ts';
import { preTokenizerOf } from './tokenizer_pre.ts';

/** The tokenizer a GGUF carries in tokenizer.ggml.* ("gpt2": byte-level BPE, "llama": SentencePiece). */
export function tokenizerFromGguf(md: ReadonlyMap<string, GgufValue>, file: string): Tokenizer {
  const kind = md.get('tokenizer.ggml.model');
  const tokens = stringArray(md, 'tokenizer.ggml.tokens', file);
  const n = tokens.length;
  const types = numberArray(md, 'tokenizer.ggml.token_type', file, n) ?? new Array<number>(n).fill(SpmTokenType.NORMAL);
  const id = (key: string): number | null => {
    const v = md.get(`tokenizer.ggml.${key}`);
    if (v === undefined) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= n) {
      throw new FormatError(file, `tokenizer.ggml.${key} ${JSON.stringify(v)} is not a token id below ${n}`);
    }
    return v;
  };
  const special: SpecialTokens = { bos: id('bos_token_id'), eos: id('eos_token_id'), pad: id('padding_token_id') };
  const template = md.get('tokenizer.chat_template');
  const chatTemplate = typeof template === 'string' ? template : null;
  if (kind === 'llama') {
    const scores = numberArray(md, 'tokenizer.ggml.scores', file, n) ?? new Array<number>(n).fill(0);
    return new SpmTokenizer({
      tokens, scores, types, special, chatTemplate,
      unk: id('unknown_token_id'),
      addSpacePrefix: md.get('tokenizer.ggml.add_space_prefix') !== false,
      addBosDefault: md.get('tokenizer.ggml.add_bos_token') !== false,
    });
  }
  if (kind === 'gpt2') {
    const merges = stringArray(md, 'tokenizer.ggml.merges', file).map((m, i): [string, string] => {
      const sp = m.indexOf(' ');
      if (sp <= 0 || sp === m.length - 1) throw new FormatError(file, `tokenizer.ggml.merges[${i}] ${JSON.stringify(m)} is not "left right"`);
      return [m.slice(0, sp), m.slice(sp + 1)];
    });
    const vocab = new Map<string, number>();
    const added: AddedToken[] = [];
    tokens.forEach((t, i) => {
      const type = types[i];
      if (type === SpmTokenType.CONTROL || type === SpmTokenType.USER_DEFINED) added.push({ id: i, content: t, special: type === SpmTokenType.CONTROL });
      else if (!vocab.has(t)) vocab.set(t, i);
    });
    const pre = preTokenizerOf(md.get('tokenizer.ggml.pre'), file);
    const addBos = md.get('tokenizer.ggml.add_bos_token');
    try {
      return new ByteLevelBpeTokenizer({
        vocab, merges, added,
        splitPatterns: pre.splitPatterns,
        addPrefixSpace: false, normalizers: [], ignoreMerges: pre.ignoreMerges, unkToken: null,
        special, chatTemplate, rawPreTokenizer: null, rawNormalizer: null,
        addBosDefault: typeof addBos === 'boolean' ? addBos : pre.addBos,
      });
    } catch (e) {
      throw new FormatError(file, `tokenizer.ggml.*: ${(e as Error).message}`);
    }
  }
  throw new FormatError(file, `tokenizer.ggml.model ${JSON.stringify(kind)} is not supported (gpt2, llama)`);
}

function stringArray(md: ReadonlyMap<string, GgufValue>, key: string, file: string): string[] {
  const v = md.get(key);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new FormatError(file, `${key} is missing or not an array of strings`);
  return v as string[];
}

function numberArray(md: ReadonlyMap<string, GgufValue>, key: string, file: string, n: number): number[] | null {
  const v = md.get(key);
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.length !== n || !v.every((s) => typeof s === 'number')) {
    throw new FormatError(file, `${key} is not an array of ${n} numbers (one per token)`);
  }
  return v as number[];
}
