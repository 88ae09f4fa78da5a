/** A small SentencePiece-style vocabulary for the "llama" tokenizer kind. */
import { rng } from './random_llama.ts';

export function tinySpmVocab(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
    scores.push(0);
  }
  const r = rng(7);
  const pieces = new Set<string>();
  for (const ch of '▁abcdefghijklmnopqrstuvwxyz,!H') pieces.add(ch);
  // Every substring of these words, so the merges that reach a long piece all exist.
  for (const word of ['▁the', '▁hello', '▁world', 'theory', '▁other', 'ly', '▁and', 'spaces']) {
    for (let i = 0; i < word.length; i++) for (let j = i + 2; j <= word.length; j++) pieces.add(word.slice(i, j));
  }
  for (const p of pieces) {
    tokens.push(p);
    types.push(1);
    // Longer pieces tend to score higher, with noise so the merge order is not just by length.
    scores.push(p.length === 1 ? -100 : -10 + p.length + 3 * r.uniform());
  }
  return { tokens, scores, types };
}
