/**
 * DistributedSampler, as PyTorch's: every rank computes the same permutation of 0..length-1
 * (seeded by seed + epoch), then takes every worldSize-th index starting at its rank.
 *
 *   permutation:  p0 p1 p2 p3 p4 p5 p6 | p0 (wrapped padding when !dropLast)
 *   rank 0:       p0    p2    p4    p6
 *   rank 1:          p1    p3    p5    p0
 *
 * Without dropLast the list is padded by wrapping around to a multiple of worldSize (a few
 * indices repeat); with dropLast the tail is cut so every rank gets floor(length/worldSize).
 */
import { InputError } from '../errors.ts';
import { Rng } from './rng.ts';

export interface DistributedSamplerOptions {
  length: number;
  rank: number;
  worldSize: number;
  seed?: number;
  shuffle?: boolean;
  dropLast?: boolean;
}

export class DistributedSampler {
  readonly length: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** Indices this rank gets per epoch. */
  readonly numSamples: number;
  private epoch = 0;

  constructor(opts: DistributedSamplerOptions) {
    const { length, rank, worldSize } = opts;
    if (!Number.isInteger(length) || length < 0) throw new InputError(`DistributedSampler: length must be a non-negative integer, got ${length}`);
    if (!Number.isInteger(worldSize) || worldSize < 1) throw new InputError(`DistributedSampler: worldSize must be a positive integer, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new InputError(`DistributedSampler: rank ${rank} is outside [0, ${worldSize})`);
    this.length = length;
    this.rank = rank;
    this.worldSize = worldSize;
    this.seed = opts.seed ?? 0;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.numSamples = this.dropLast ? Math.floor(length / worldSize) : Math.ceil(length / worldSize);
  }

  /** Use a different permutation each epoch (call before indices(), on every rank). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new InputError(`DistributedSampler.setEpoch: epoch must be a non-negative integer, got ${epoch}`);
    this.epoch = epoch;
  }

  /** This rank's indices for the current epoch. */
  indices(): Int32Array {
    const n = this.length;
    let order: Int32Array;
    if (this.shuffle) order = new Rng(this.seed + this.epoch).permutation(n);
    else order = Int32Array.from({ length: n }, (_, i) => i);
    const out = new Int32Array(this.numSamples);
    for (let j = 0; j < this.numSamples; j++) {
      const i = this.rank + j * this.worldSize; // position in the (padded) global list
      out[j] = order[i % n]!; // i >= n only without dropLast: wrap around
    }
    return out;
  }
}
