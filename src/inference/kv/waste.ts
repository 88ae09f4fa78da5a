import type { KvCacheManager } from './manager.ts';

export interface KvWasteSample {
  /** Token slots in blocks held by sequences (shared blocks once). */
  readonly allocatedSlots: number;
  /** Of those, slots holding a token. */
  readonly usedSlots: number;
  /** 1 - used / allocated; 0 when nothing is allocated. */
  readonly waste: number;
}

/**
 * Internal fragmentation of the paged KV cache: only the partial last block of each sequence
 * wastes slots, so waste < blockSize / mean sequence length. The benchmark samples it every
 * step and reports the peak (goal: < 4%).
 */
export class KvWaste {
  private peakSample: KvWasteSample = { allocatedSlots: 0, usedSlots: 0, waste: 0 };
  private sumAllocated = 0;
  private sumUsed = 0;
  private samples = 0;

  /** Record the manager's current state and return it. */
  observe(manager: KvCacheManager): KvWasteSample {
    const { allocatedSlots, usedSlots } = manager.slotUsage();
    const sample = { allocatedSlots, usedSlots, waste: allocatedSlots === 0 ? 0 : 1 - usedSlots / allocatedSlots };
    if (sample.waste > this.peakSample.waste) this.peakSample = sample;
    this.sumAllocated += allocatedSlots;
    this.sumUsed += usedSlots;
    this.samples++;
    return sample;
  }

  /** The worst step seen. */
  get peak(): KvWasteSample {
    return this.peakSample;
  }

  /** Waste over all observed steps, weighted by slots allocated. */
  get mean(): number {
    return this.sumAllocated === 0 ? 0 : 1 - this.sumUsed / this.sumAllocated;
  }

  get numSamples(): number {
    return this.samples;
  }
}
