import { describe, expect, it } from 'vitest';
import { presetType } from '../../../src/inference/loaders/gguf/quantize.ts';
import type { GgufTensorInfo } from '../../../src/inference/loaders/gguf/reader.ts';

const t = (name: string): GgufTensorInfo => ({ name, shape: [256, 256] }) as unknown as GgufTensorInfo;

describe("ds quantize's per-tensor types follow llama-quantize", () => {
  it('use_more_bits with integer eighths: a 22-layer model gets Q6_K ffn_down on layers 0,1,4,7,10,13,16,19,20,21 under q4_k_m', () => {
    const more = Array.from({ length: 22 }, (_, l) => l).filter((l) => presetType('q4_k_m', t(`blk.${l}.ffn_down.weight`), 22) === 'Q6_K');
    expect(more).toEqual([0, 1, 4, 7, 10, 13, 16, 19, 20, 21]);
    expect(presetType('q4_k_m', t('blk.2.ffn_down.weight'), 22)).toBe('Q4_K');
  });
  it('with tied embeddings (no output.weight) token_embd is the LM head and gets the output type', () => {
    expect(presetType('q4_k_m', t('token_embd.weight'), 22, false)).toBe('Q6_K');
    expect(presetType('q4_k_m', t('token_embd.weight'), 22, true)).toBe('Q4_K');
    expect(presetType('q4_k_m', t('output.weight'), 22, true)).toBe('Q6_K');
  });
});
