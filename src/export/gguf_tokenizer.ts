/**
 * A deepscale tokenizer → GGUF's tokenizer.ggml.* keys, in a kind llama.cpp reproduces id for id.
 *
 * Both tokenizers a training run saves map to the "gpt2" kind (byte-level BPE):
 *   - ByteLevelBpeTokenizer: its vocab, merges and added tokens as they are; the GPT-2 split
 *     pattern is GGUF's pre "gpt-2".
 *   - CharTokenizer: one token per character, no merges. llama.cpp's BPE splits a word into
 *     byte-level symbols (one per UTF-8 byte), merges by rank, then looks each symbol up; with no
 *     merges an ASCII character's symbol is the token itself ("a" → "a", " " → "Ġ", "\n" → "Ċ").
 *     A multi-byte character would need merges whose halves are tokens too (as HF tokenizers and
 *     deepscale's own GGUF reader require): such an alphabet is refused, naming the character.
 * Special tokens are CONTROL tokens: llama.cpp matches them in text only when asked, as
 * deepscale's allowSpecial does. Ids the model has beyond the tokenizer are UNUSED fillers.
 */
import { InputError, NotImplementedError } from '../errors.ts';
import { ByteLevelBpeTokenizer } from '../data/tokenizer/bpe.ts';
import { byteToChar, UTF8 } from '../data/tokenizer/bytes.ts';
import { CharTokenizer } from '../data/tokenizer/char.ts';
import { GPT2_PATTERN } from '../data/tokenizer/pretokenize.ts';
import { SpmTokenType } from '../data/tokenizer/spm.ts';
import type { Tokenizer } from '../data/tokenizer/types.ts';
import { gpt2TokenizerKv } from '../inference/loaders/gguf/tokenizer_kv.ts';
import type { GgufKv } from '../inference/loaders/gguf/writer.ts';

/** tokenizer.ggml.* for `tok`, padded to the model's `vocabSize` rows. */
export function tokenizerToGgufKv(tok: Tokenizer, vocabSize: number): Map<string, GgufKv> {
  if (tok.vocabSize > vocabSize) {
    throw new InputError(`GGUF export: the tokenizer has ${tok.vocabSize} tokens, the model's embedding only ${vocabSize} rows`);
  }
  let v: { tokens: string[]; types: number[]; merges: readonly (readonly [string, string])[] };
  if (tok instanceof CharTokenizer) v = charVocab(tok);
  else if (tok instanceof ByteLevelBpeTokenizer) v = bpeVocab(tok);
  else throw new NotImplementedError(`GGUF export of a ${tok.constructor.name} (character and byte-level BPE tokenizers are supported)`);
  for (let id = 0; id < vocabSize; id++) {
    if (v.tokens[id] === undefined) {
      v.tokens[id] = `<|unused_${id}|>`;
      v.types[id] = SpmTokenType.UNUSED;
    }
  }
  const md = gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: tok.special.bos, eos: tok.special.eos, chatTemplate: tok.chatTemplate });
  if (tok.special.pad !== null) md.set('tokenizer.ggml.padding_token_id', { type: 'u32', value: tok.special.pad });
  // deepscale's engines put bos before a prompt whenever the tokenizer has one; llama.cpp does the same with this key.
  md.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: tok.special.bos !== null });
  md.set('tokenizer.ggml.add_eos_token', { type: 'bool', value: false });
  return md;
}

/** The HF tokenizer.json view of `tok`: vocab (token → id) and the added tokens. */
function jsonParts(tok: Tokenizer): { vocab: Record<string, number>; added: { id: number; content: string; special: boolean }[] } {
  const j = tok.toTokenizerJson!() as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string; special: boolean }[] };
  return { vocab: j.model.vocab, added: j.added_tokens };
}

function charVocab(tok: CharTokenizer): { tokens: string[]; types: number[]; merges: [string, string][] } {
  const { vocab, added } = jsonParts(tok);
  const tokens: string[] = [];
  const types: number[] = [];
  const special = new Map(added.map((a) => [a.id, a]));
  for (const [t, id] of Object.entries(vocab)) {
    const a = special.get(id);
    if (a) {
      tokens[id] = a.content;
      types[id] = a.special ? SpmTokenType.CONTROL : SpmTokenType.USER_DEFINED;
      continue;
    }
    const bytes = UTF8.encode(t);
    if (bytes.length !== 1) {
      const cp = `U+${t.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      throw new InputError(
        `GGUF export: the character tokenizer's token ${id} ${JSON.stringify(t)} (${cp}) is ${bytes.length} UTF-8 bytes; ` +
          `GGUF's byte-level kind builds such a character from byte tokens through merges, and this vocabulary has no byte tokens ` +
          `(only ASCII alphabets map exactly; export --format dir keeps the tokenizer as it is)`,
      );
    }
    tokens[id] = byteToChar(bytes[0]!);
    types[id] = SpmTokenType.NORMAL;
  }
  return { tokens, types, merges: [] };
}

function bpeVocab(tok: ByteLevelBpeTokenizer): { tokens: string[]; types: number[]; merges: readonly (readonly [string, string])[] } {
  const p = tok.parts;
  const why =
    p.addPrefixSpace ? 'add_prefix_space' :
    p.normalizers.length > 0 ? `a ${p.normalizers.join('+')} normalizer` :
    p.splitPatterns.length !== 1 || p.splitPatterns[0] !== GPT2_PATTERN ? 'a split pattern other than GPT-2\'s' :
    p.ignoreMerges ? 'ignore_merges' : null;
  if (why) throw new NotImplementedError(`GGUF export of a byte-level BPE tokenizer with ${why} (GGUF pre "gpt-2" has none)`);
  for (let b = 0; b < 256; b++) {
    if (!p.vocab.has(byteToChar(b))) throw new InputError(`GGUF export: the BPE vocabulary lacks the token for byte 0x${b.toString(16)}; llama.cpp would drop that byte where deepscale does not`);
  }
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [t, id] of p.vocab) {
    tokens[id] = t;
    types[id] = SpmTokenType.NORMAL;
  }
  for (const a of p.added) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? SpmTokenType.CONTROL : SpmTokenType.USER_DEFINED;
  }
  return { tokens, types, merges: p.merges };
}
