/**
 * The tokens that end a generation: the model's eos, and the end-of-turn tokens chat models emit
 * instead (Llama 3's <|eot_id|> while its eos is <|end_of_text|>, ChatML's <|im_end|>, Phi-3's
 * <|end|>, Gemma's <end_of_turn>). llama.cpp keeps the same set (its vocab's end-of-generation
 * ids, found by these texts); without it a chat reply runs to max_tokens.
 */
import type { Tokenizer } from '../../data/tokenizer/types.ts';

export const END_OF_TURN_TEXTS: ReadonlySet<string> = new Set([
  '<|eot_id|>', '<|eom_id|>', '<|end_of_text|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<EOT>',
]);

/** `extra`: the model files' own eos lists (LoadedModel.eosTokenIds). */
export function endOfGenerationIds(tokenizer: Tokenizer, vocabSize: number, eos: number | null, extra: readonly number[] = []): number[] {
  const ids = new Set<number>(extra);
  if (eos !== null) ids.add(eos);
  for (let id = 0; id < vocabSize; id++) {
    const text = tokenizer.idToToken(id);
    if (text !== undefined && END_OF_TURN_TEXTS.has(text)) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}
