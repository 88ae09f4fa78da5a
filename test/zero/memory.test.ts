/**
 * engine.memoryReport() against the ZeRO paper's accounting for float32 Adam (Ψ parameters, Nd
 * ranks): stage 0 16Ψ, stage 1 8Ψ + 8Ψ/Nd, stage 2 4Ψ + 12Ψ/Nd, stage 3 16Ψ/Nd. The report
 * sums the byteLength of the buffers each stage allocated; the bound allows 2% plus the
 * padding that makes the flat buffer a multiple of Nd.
 */
import { describe, expect, it } from 'vitest';
import { closeAll, startRanks, trainAll, zeroConfig } from './helpers.ts';

const paper = (stage: number, psi: number, nd: number): number => [16 * psi, 8 * psi + (8 * psi) / nd, 4 * psi + (12 * psi) / nd, (16 * psi) / nd][stage]!;

describe('memoryReport: model-state bytes per rank as allocated, against the ZeRO paper', () => {
  for (const nd of [1, 2, 4]) {
    it(`Nd = ${nd}: stages 0-3`, async () => {
      for (const stage of [0, 1, 2, 3]) {
        const rts = await startRanks(nd, zeroConfig(nd, 1, { stage, stage3_param_persistence_threshold: 0 }));
        try {
          await trainAll(rts, 1);
          for (const rt of rts) {
            const m = rt.engine.memoryReport();
            const psi = rt.engine.flat.numel;
            const pad = rt.engine.flat.padded - psi;
            expect(m.numel).toBe(psi);
            expect(m.stage).toBe(stage);
            const states = m.params + m.grads + m.optimizer;
            expect(Math.abs(states - paper(stage, psi, nd))).toBeLessThanOrEqual(0.02 * paper(stage, psi, nd) + 16 * pad);
            expect(m.total).toBe(states + m.buffers);
          }
        } finally {
          await closeAll(rts);
        }
      }
    }, 60_000);
  }

  it('with offload_optimizer cpu the same bytes are allocated, and the report says the optimizer lives with the host workers', async () => {
    const rts = await startRanks(2, zeroConfig(2, 1, { stage: 2, offload_optimizer: { device: 'cpu' } }));
    const plain = await startRanks(2, zeroConfig(2, 1, { stage: 2 }));
    try {
      await trainAll(rts, 1);
      const m = rts[0]!.engine.memoryReport();
      const p = plain[0]!.engine.memoryReport();
      expect(m.optimizerOffloaded).toBe(true);
      expect(p.optimizerOffloaded).toBe(false);
      expect([m.params, m.grads, m.optimizer]).toEqual([p.params, p.grads, p.optimizer]);
    } finally {
      await closeAll([...rts, ...plain]);
    }
  }, 60_000);

  it('stage 3 keeps parameters under stage3_param_persistence_threshold whole on every rank, and counts them', async () => {
    const nd = 2;
    const sharded = await startRanks(nd, zeroConfig(nd, 1, { stage: 3, stage3_param_persistence_threshold: 0 }));
    const persistent = await startRanks(nd, zeroConfig(nd, 1, { stage: 3, stage3_param_persistence_threshold: 100 }));
    try {
      const a = sharded[0]!.engine.memoryReport();
      const b = persistent[0]!.engine.memoryReport();
      // The norms (hidden 16 < 100 elements) are resident: 4 bytes each, once per norm, on top of the shard.
      const norms = sharded[0]!.engine.flat.segments.filter((s) => s.numel < 100).reduce((n, s) => n + s.numel, 0);
      expect(norms).toBeGreaterThan(0);
      expect(b.params - a.params).toBe(4 * norms);
      expect(b.grads).toBe(a.grads);
    } finally {
      await closeAll([...sharded, ...persistent]);
    }
  }, 60_000);
});

describe('memoryReport.stepTensors: the parameter tensors a step holds on the backend', () => {
  it('equals what beginStep uploads at stages 0-2 (the whole model, a second copy), and covers stage 3\'s residents', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    for (const stage of [0, 1, 2, 3]) {
      const rts = await startRanks(1, zeroConfig(1, 1, { stage, stage3_param_persistence_threshold: 0 }));
      try {
        const rt = rts[0]!;
        const zero = (rt.engine as unknown as { opts: { stage: { beginStep(): { close(): void } } } }).opts.stage;
        const before = tf.memory().numBytes;
        const hooks = zero.beginStep();
        const held = tf.memory().numBytes - before;
        hooks.close();
        const m = rt.engine.memoryReport();
        if (stage < 3) expect(held).toBe(m.stepTensors);
        else expect(held).toBeLessThanOrEqual(m.stepTensors);
        expect(m.stepTensors).toBeGreaterThan(0);
      } finally {
        await closeAll(rts);
      }
    }
  }, 60_000);
});
