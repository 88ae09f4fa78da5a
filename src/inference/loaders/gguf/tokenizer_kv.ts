import type { GgufKv } from './writer.ts';

export interface GgufTokenizerSpecials {
  readonly bos: number | null;
  readonly eos: number | null;
  readonly chatTemplate?: string | null;
  /** tokenizer.ggml.add_bos_token for a byte-level BPE; default: whether there is a bos; null: left out (llama.cpp's default then). */
  readonly addBos?: boolean | null;
}

function specialsKv(s: GgufTokenizerSpecials, md: Map<string, GgufKv>): Map<string, GgufKv> {
  if (s.bos !== null) md.set('tokenizer.ggml.bos_token_id', { type: 'u32', value: s.bos });
  if (s.eos !== null) md.set('tokenizer.ggml.eos_token_id', { type: 'u32', value: s.eos });
  if (s.chatTemplate) md.set('tokenizer.chat_template', { type: 'string', value: s.chatTemplate });
  return md;
}

/** tokenizer.ggml.* for a byte-level BPE ("gpt2" kind): tokens in byte-level form, merges as "a b". */
export function gpt2TokenizerKv(
  tokens: readonly string[], types: readonly number[], merges: readonly (readonly [string, string])[], s: GgufTokenizerSpecials,
  pre = 'gpt-2', // tokenizer.ggml.pre: the split before BPE (tokenizer_pre.ts)
): Map<string, GgufKv> {
  const addBos = s.addBos === undefined ? s.bos !== null : s.addBos;
  return specialsKv(s, new Map<string, GgufKv>([
    ...(addBos === null ? [] : [['tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos }] as [string, GgufKv]]),
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges.map(([a, b]) => `${a} ${b}`) }],
  ]));
}

/** tokenizer.ggml.* for a SentencePiece vocabulary ("llama" kind). */
export function llamaTokenizerKv(
  tokens: readonly string[], scores: readonly number[], types: readonly number[],
  s: GgufTokenizerSpecials & { readonly unk: number | null; readonly addBos: boolean; readonly addSpacePrefix: boolean },
): Map<string, GgufKv> {
  const md = new Map<string, GgufKv>([
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: s.addBos }],
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: s.addSpacePrefix }],
  ]);
  if (s.unk !== null) md.set('tokenizer.ggml.unknown_token_id', { type: 'u32', value: s.unk });
  return specialsKv(s, md);
}
