import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/runtime/config/index.ts';
import { configError } from './helpers.ts';

const sizes = (cfg: object, dp: number) => {
  const c = loadConfig(cfg, { dpWorldSize: dp });
  return [c.train_batch_size, c.train_micro_batch_size_per_gpu, c.gradient_accumulation_steps];
};

describe('batch rule: train_batch_size = micro × gas × data-parallel size', () => {
  it('infers the third from any two', () => {
    expect(sizes({ train_batch_size: 32, train_micro_batch_size_per_gpu: 4 }, 2)).toEqual([32, 4, 4]);
    expect(sizes({ train_batch_size: 32, gradient_accumulation_steps: 2 }, 2)).toEqual([32, 8, 2]);
    expect(sizes({ train_micro_batch_size_per_gpu: 4, gradient_accumulation_steps: 3 }, 2)).toEqual([24, 4, 3]);
    expect(sizes({ train_batch_size: 24, train_micro_batch_size_per_gpu: 4, gradient_accumulation_steps: 3 }, 2)).toEqual([24, 4, 3]);
  });

  it('follows DeepSpeed when only one is given', () => {
    expect(sizes({ train_micro_batch_size_per_gpu: 4 }, 3)).toEqual([12, 4, 1]);
    expect(sizes({ train_batch_size: 64 }, 4)).toEqual([64, 16, 1]);
  });

  it('shows the numbers of a mismatch', () => {
    const e = configError({ train_batch_size: 32, train_micro_batch_size_per_gpu: 4, gradient_accumulation_steps: 2 }, 2);
    expect(e.path).toBe('train_batch_size');
    expect(e.message).toBe(
      'train_batch_size: train_batch_size 32 != train_micro_batch_size_per_gpu 4 × gradient_accumulation_steps 2 × data-parallel size 2 = 16 (<object>)',
    );
  });

  it('refuses sizes that do not divide', () => {
    expect(configError({ train_batch_size: 30, train_micro_batch_size_per_gpu: 4 }, 2).message).toBe(
      'train_batch_size: train_batch_size 30 is not a multiple of train_micro_batch_size_per_gpu 4 × data-parallel size 2 = 8 (<object>)',
    );
    expect(configError({ train_batch_size: 10, gradient_accumulation_steps: 3 }, 1).message).toContain('train_batch_size 10 is not a multiple of gradient_accumulation_steps 3 × data-parallel size 1 = 3');
    expect(configError({ train_batch_size: 10 }, 4).message).toContain('train_batch_size 10 is not a multiple of data-parallel size 4');
  });

  it('needs at least one batch size', () => {
    expect(configError({}).message).toBe('train_batch_size: set train_batch_size or train_micro_batch_size_per_gpu (<object>)');
  });
});
