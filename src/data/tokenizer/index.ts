export type { SpecialTokens, Tokenizer } from './types.ts';
export { ByteLevelBpeTokenizer, type AddedToken, type BpeParts } from './bpe.ts';
export { CharTokenizer, CHAR_SPECIAL_TOKENS } from './char.ts';
export { BpeTrainer, trainBpe, DEFAULT_SPECIAL_TOKENS, type TrainBpeOptions } from './train.ts';
export { loadTokenizer, saveTokenizer, tokenizerFiles, tokenizerFromJson } from './io.ts';
export { bytesToSymbols, symbolsToBytes, byteToChar } from './bytes.ts';
export { GPT2_PATTERN, gpt2PreTokenize } from './pretokenize.ts';
