/**
 * The optimizer step in-line (the compute thread) against ZeRO-Offload's host workers (piscina,
 * SharedArrayBuffer views), on shards of the sizes ZeRO gives the reference model.
 *   node --import ./bin/register.js scripts/bench_offload_adam.ts [elements…]
 */
import { availableParallelism } from 'node:os';
import { createOptimizer } from '../src/runtime/optim/index.ts';
import { optimizer } from '../src/runtime/config/blocks.ts';
import { HostAdam, sharedFloats } from '../src/zero/offload/host_adam.ts';
import { formatTable } from '../src/cli/table.ts';

const sizes = process.argv.slice(2).map(Number);
const block = optimizer.parse({ type: 'AdamW', params: { lr: 1e-3, weight_decay: 0.01 } });
const rows: (string | number)[][] = [];
for (const n of sizes.length ? sizes : [1_648_256, 3_296_512]) {
  const params = sharedFloats(n).fill(0.01);
  const grads = sharedFloats(n).fill(1e-3);
  const segs = [{ name: 'all', offset: 0, numel: n }];
  const inline = createOptimizer(block, n);
  const host = new HostAdam(block.params, true, n);
  const time = async (f: () => void | Promise<void>): Promise<number> => {
    await f();
    const reps = 5;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await f();
    return (performance.now() - t0) / reps;
  };
  const a = await time(() => inline.step(params, grads, 1e-3, segs));
  const b = await time(() => host.stepAsync(params, grads, 1e-3, segs));
  rows.push([n, a.toFixed(1), b.toFixed(1), `${(a / b).toFixed(2)}×`]);
}
process.stdout.write(`AdamW step, ${availableParallelism()} host worker threads (one per core)\n`);
process.stdout.write(`${formatTable(['elements', 'in-line ms', 'host workers ms', 'speed-up'], rows)}\n`);
