/**
 * What every tokenizer gives (byte-level BPE trained here, HF tokenizer.json, GGUF gpt2 and llama kinds).
 */
export interface SpecialTokens {
  readonly bos: number | null;
  readonly eos: number | null;
  readonly pad: number | null;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  /** Ids of `text`. Special-token strings in the text (e.g. "<|eos|>") map to their ids only when `allowSpecial`. */
  encode(text: string, opts?: { addBos?: boolean; allowSpecial?: boolean }): number[];
  /** Text of `ids`; special tokens are dropped when `skipSpecial`. Exact inverse of encode for byte-level kinds. */
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  /** The string form of one token (for logprobs and streaming), as the vocabulary holds it. */
  idToToken(id: number): string | undefined;
  /** Bytes of one token, for incremental (streaming) decoding across multi-byte characters. */
  tokenBytes(id: number): Uint8Array;
  /**
   * Whether a prompt gets BOS when the caller does not say (GGUF tokenizer.ggml.add_bos_token, as
   * llama.cpp decides it); absent: when the tokenizer has a BOS token. Read it through addsBos().
   */
  readonly addBosByDefault?: boolean;
  /** Chat template (Jinja) carried by tokenizer.json / GGUF metadata, if any. */
  readonly chatTemplate: string | null;
  /** The HF tokenizer.json object for this tokenizer, when it can be saved as one. */
  toTokenizerJson?(): Record<string, unknown>;
}

/** Whether a prompt encoded for `t` starts with BOS unless asked otherwise. */
export function addsBos(t: Tokenizer): boolean {
  return t.special.bos !== null && (t.addBosByDefault ?? true);
}
