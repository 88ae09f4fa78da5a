import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.ts';
import { blocksForBudget, bytesPerBlock } from '../../../src/inference/kv/sizing.ts';

describe('blocksForBudget', () => {
  // Llama-3-8B-like: 32 layers, 8 KV heads of 128; one 16-token fp32 block holds
  // K and V: 2 * 32 * 16 * 8 * 128 * 4 B = 4 MiB.
  const llama = { numLayers: 32, numKvHeads: 8, headDim: 128 };

  it('divides the budget by the bytes of one block', () => {
    expect(bytesPerBlock(llama)).toBe(4 * 1024 * 1024);
    expect(blocksForBudget({ ...llama, budgetBytes: 2 ** 30 })).toBe(256);
    expect(blocksForBudget({ ...llama, budgetBytes: 2 ** 30 - 1 })).toBe(255);
    expect(blocksForBudget({ ...llama, budgetBytes: 2 ** 30, blockSize: 32, bytesPerElement: 2 })).toBe(256);
    expect(blocksForBudget({ ...llama, budgetBytes: 2 ** 30, maxModelLen: 4096 })).toBe(256);
  });

  it('says what to change when one max-length sequence does not fit', () => {
    const call = () => blocksForBudget({ ...llama, budgetBytes: 2 ** 30, maxModelLen: 8192 });
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(
      /needs 512 blocks for max_model_len=8192.*budget 1073741824 bytes gives only 256; raise --kv-cache-memory or lower --max-model-len/,
    );
    expect(() => blocksForBudget({ ...llama, budgetBytes: 2 ** 30, headDim: 0 })).toThrow(/headDim must be a positive integer, got 0/);
  });
});
