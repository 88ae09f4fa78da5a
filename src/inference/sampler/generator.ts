/**
 * One random generator per request. A seeded request draws only from its own stream, so the
 * same seed gives the same tokens whatever else shares the batch; an unseeded request gets a
 * stream derived from the engine's global seed and a counter (reproducible per engine run).
 */
import { Rng, hash32 } from '../../data/rng.ts';

/** What the sampler needs of a generator: uniform floats in [0, 1). */
export interface SamplerRng {
  next(): number;
}

/** Hands out seeds for unseeded requests: hash(globalSeed, k) for the k-th request. */
export class SeedSource {
  private counter = 0;
  constructor(readonly globalSeed: number = 0) {}

  nextSeed(): number {
    return hash32(this.globalSeed | 0, this.counter++);
  }
}

/** The generator for one request (or one of its n samples: pass `sampleIndex` so they differ). */
export function makeGenerator(seed: number | null, source: SeedSource, sampleIndex = 0): SamplerRng {
  if (seed === null) return new Rng(source.nextSeed());
  return new Rng(sampleIndex === 0 ? seed : hash32(seed | 0, Math.floor(seed / 2 ** 32) | 0, sampleIndex));
}
