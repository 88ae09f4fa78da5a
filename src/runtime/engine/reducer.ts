import type { ProcessGroup, WireDtype } from '../comm/index.ts';

/**
 * Data-parallel gradient reduction: a bucketed sum all-reduce over the flat gradient buffer
 * (DeepSpeed's reduce_bucket_size, in elements), plus scalar sums for losses and token counts.
 * Every rank ends with bit-identical sums, so every rank takes the same optimizer step.
 */
export interface GradientReducer {
  sumGradients(grads: Float32Array, numel: number): Promise<void>;
  sumScalar(x: number): Promise<number>;
}

export function allReduceReducer(pg: ProcessGroup, opts: { bucketElems: number; wireDtype: WireDtype }): GradientReducer {
  return {
    async sumGradients(grads, numel) {
      for (let off = 0; off < numel; off += opts.bucketElems) {
        const end = Math.min(numel, off + opts.bucketElems);
        await pg.allReduce(grads.subarray(off, end), { op: 'sum', wireDtype: opts.wireDtype });
      }
    },
    async sumScalar(x) {
      const b = new Float32Array([x]);
      await pg.allReduce(b, { op: 'sum' });
      return b[0]!;
    },
  };
}
