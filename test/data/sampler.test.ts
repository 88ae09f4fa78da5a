import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { DistributedSampler } from '../../src/data/sampler.ts';

function shards(length: number, worldSize: number, opts: { dropLast?: boolean; shuffle?: boolean; seed?: number; epoch?: number } = {}): number[][] {
  return Array.from({ length: worldSize }, (_, rank) => {
    const s = new DistributedSampler({ length, rank, worldSize, seed: opts.seed ?? 7, shuffle: opts.shuffle ?? true, dropLast: opts.dropLast ?? false });
    s.setEpoch(opts.epoch ?? 0);
    return [...s.indices()];
  });
}

describe('DistributedSampler', () => {
  it('splits a divisible length into disjoint shards that cover everything', () => {
    const sh = shards(24, 4);
    expect(sh.every((s) => s.length === 6)).toBe(true);
    const all = sh.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('pads by wrapping when not dropLast, like PyTorch', () => {
    const sh = shards(10, 4, { shuffle: false });
    // global list 0..9 then 0, 1 wrapped; rank r takes r, r+4, r+8
    expect(sh).toEqual([[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]);
    const covered = new Set(shards(10, 4).flat());
    expect(covered.size).toBe(10);
  });

  it('drops the tail with dropLast', () => {
    const sh = shards(10, 4, { dropLast: true });
    expect(sh.every((s) => s.length === 2)).toBe(true);
    expect(new Set(sh.flat()).size).toBe(8);
  });

  it('is deterministic per seed and epoch, and reshuffles across epochs', () => {
    expect(shards(50, 3, { epoch: 2 })).toEqual(shards(50, 3, { epoch: 2 }));
    expect(shards(50, 3, { epoch: 2 })).not.toEqual(shards(50, 3, { epoch: 3 }));
    expect(shards(50, 3, { seed: 1 })).not.toEqual(shards(50, 3, { seed: 2 }));
    expect(shards(50, 1)[0]).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rejects a rank outside the world', () => {
    expect(() => new DistributedSampler({ length: 5, rank: 2, worldSize: 2 })).toThrow(InputError);
    expect(() => new DistributedSampler({ length: 5, rank: 2, worldSize: 2 })).toThrow(/rank 2 is outside \[0, 2\)/);
  });
});
