/**
 * tokenizer.ggml.pre → the split patterns llama.cpp applies before byte-level BPE (its
 * llama-vocab.cpp table, in JS regex form: case-insensitive contractions spelled out). Several
 * patterns apply in turn, each to every piece of the one before (matches and gaps both kept).
 * A name not listed is refused: a wrong split gives other tokens than the model was trained on.
 */
import { FormatError } from '../../../errors.ts';
import { GPT2_PATTERN } from '../../../data/tokenizer/pretokenize.ts';

const CONTRACTIONS = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`;
/** Llama 3: digits in runs of at most three. */
const LLAMA3 = String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
/** Qwen2: as Llama 3, but every digit alone. */
const QWEN2 = String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
/** SmolLM, StarCoder and kin: every digit alone first, then GPT-2's split. */
const DIGITS_THEN_GPT2 = [String.raw`\p{N}`, GPT2_PATTERN];
/** llama.cpp's 'default' (also what a file without tokenizer.ggml.pre gets). */
const DEFAULT = [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2_PATTERN, String.raw`\p{N}+`, '[0-9][0-9][0-9]'];

export interface PreTokenizerSpec {
  readonly splitPatterns: readonly string[];
  /** Llama 3: a word that is itself a token is emitted whole, without running the merges. */
  readonly ignoreMerges: boolean;
  /** llama.cpp's add-BOS default for this split when the file has no tokenizer.ggml.add_bos_token (BPE: only Llama 3's). */
  readonly addBos: boolean;
}

const llama3: PreTokenizerSpec = { splitPatterns: [LLAMA3], ignoreMerges: true, addBos: true };
const qwen2: PreTokenizerSpec = { splitPatterns: [QWEN2], ignoreMerges: false, addBos: false };
const gpt2: PreTokenizerSpec = { splitPatterns: [GPT2_PATTERN], ignoreMerges: false, addBos: false };
const smollm: PreTokenizerSpec = { splitPatterns: DIGITS_THEN_GPT2, ignoreMerges: false, addBos: false };

const PRE: Record<string, PreTokenizerSpec> = {
  'llama-bpe': llama3,
  llama3,
  'llama-v3': llama3,
  qwen2,
  'deepseek-r1-qwen': qwen2,
  'gpt-2': gpt2,
  'phi-2': gpt2,
  smollm,
  starcoder: smollm,
  default: { splitPatterns: DEFAULT, ignoreMerges: false, addBos: false },
};

/** The pre-tokenizer a GGUF names (undefined: llama.cpp's 'default'). */
export function preTokenizerOf(pre: unknown, file: string): PreTokenizerSpec {
  const name = pre === undefined ? 'default' : pre;
  const spec = typeof name === 'string' ? PRE[name] : undefined;
  if (!spec) throw new FormatError(file, `tokenizer.ggml.pre ${JSON.stringify(pre)} is not supported (${Object.keys(PRE).join(', ')})`);
  return spec;
}
