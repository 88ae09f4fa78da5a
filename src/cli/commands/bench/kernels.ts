/** `ds bench kernels [--json]`: matmul GFLOP/s per available backend, and per-op dispatch cost. */
import * as tf from '@tensorflow/tfjs-core';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../../runtime/backend/index.ts';
import { measureMatmulGflops, measureOpOverheadUs } from '../../../runtime/backend/bench.ts';
import { formatTable } from '../../table.ts';

interface Args { json: boolean; reps: number }

const SHAPES: [string, number, number, number, boolean][] = [
  ['256³', 256, 256, 256, false],
  ['512³', 512, 512, 512, false],
  ['1024³', 1024, 1024, 1024, false],
  ['ffn 2048×256·256×688', 2048, 256, 688, false],
  ['ffn x·Wᵀ (HF layout)', 2048, 256, 688, true],
];

export const kernelsBenchCommand: CommandModule<object, Args> = {
  command: 'kernels',
  describe: 'matmul GFLOP/s per available backend at several sizes',
  builder: (y) => y.option('json', { type: 'boolean', default: false }).option('reps', { type: 'number', default: 5 }) as never,
  handler: async (argv) => {
    const info = await initBackend();
    const backends = [...new Set([info.name, 'wasm', 'cpu'])].filter((b) => tf.findBackend(b) ?? tf.engine().registryFactory[b]);
    const results: { backend: string; shape: string; m: number; k: number; n: number; gflops: number }[] = [];
    const overhead: Record<string, number> = {};
    for (const b of backends) {
      if (!(await tf.setBackend(b))) continue;
      for (const [shape, m, k, n, tb] of SHAPES) {
        // The cpu backend runs ~1 GFLOP/s: skip its large sizes.
        if (b === 'cpu' && m * k * n > 512 ** 3) continue;
        results.push({ backend: b, shape, m, k, n, gflops: measureMatmulGflops(m, k, n, { reps: argv.reps, transposeB: tb }) });
      }
      overhead[b] = measureOpOverheadUs();
    }
    await tf.setBackend(info.name);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ backend: info.name, simd: info.simd, threads: info.threads, matmul: results, op_overhead_us: overhead })}\n`);
      return;
    }
    process.stdout.write(`${formatTable(['backend', 'matmul', 'GFLOP/s'], results.map((r) => [r.backend, r.shape, r.gflops.toFixed(1)]))}\n\n`);
    process.stdout.write(`${formatTable(['backend', 'tiny-op dispatch (µs)'], Object.entries(overhead).map(([b, us]) => [b, us.toFixed(1)]))}\n`);
  },
};
