/**
 * Incremental detokenization for streaming: the bytes of each new token go through a streaming
 * UTF-8 decoder, which returns only whole characters and keeps the first bytes of a character
 * split across tokens (a byte-level emoji is often 2 to 4 tokens) until the rest arrive.
 *
 * Output text continues the prompt: a token's bytes are used as they are (an SPM "▁Hello" gives
 * " Hello", a leading space the tokenizer's decode() would drop at the start of a whole text).
 */
import type { Tokenizer } from '../../data/tokenizer/types.ts';

/** Whether each id is special (dropped by decode with skipSpecial), cached per tokenizer. */
const specialCache = new WeakMap<Tokenizer, Map<number, boolean>>();

export function isSpecialToken(tokenizer: Tokenizer, id: number): boolean {
  let cache = specialCache.get(tokenizer);
  if (!cache) specialCache.set(tokenizer, (cache = new Map()));
  let special = cache.get(id);
  if (special === undefined) {
    const { bos, eos, pad } = tokenizer.special;
    // decode() drops a special token with skipSpecial; a plain one keeps its text (or has none either way).
    special = id === bos || id === eos || id === pad || (tokenizer.decode([id], { skipSpecial: true }) === '' && tokenizer.decode([id]) !== '');
    cache.set(id, special);
  }
  return special;
}

export class IncrementalDetokenizer {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly skipSpecialTokens: boolean,
  ) {}

  /** The whole characters completed by token `id` ('' while a character is still incomplete). */
  push(id: number): string {
    if (this.skipSpecialTokens && isSpecialToken(this.tokenizer, id)) return '';
    return this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
  }

  /** End of the output: bytes of an unfinished character come out as U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}
