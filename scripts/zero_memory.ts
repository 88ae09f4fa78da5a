/**
 * Per-rank model-state bytes of each ZeRO stage as engine.memoryReport() gives them (allocated
 * buffers), against the ZeRO paper's float32-Adam accounting, for a config's model at Nd = 1, 2, 4.
 * Ranks run in this process over the TCP ring; nothing is trained.
 *   node --import ./bin/register.js scripts/zero_memory.ts [config.json5]
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import JSON5 from 'json5';
import { initialize } from '../src/runtime/initialize.ts';
import { modelConfigFromDs } from '../src/runtime/config/index.ts';
import { formatTable } from '../src/cli/table.ts';

const file = process.argv[2] ?? 'configs/bench_reference.json5';
const { data: _data, train_batch_size: _tbs, ...raw } = JSON5.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const paper = (stage: number, psi: number, nd: number): number => [16 * psi, 8 * psi + (8 * psi) / nd, 4 * psi + (12 * psi) / nd, (16 * psi) / nd][stage]!;

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const rows: (string | number)[][] = [];
let psi = 0;
for (const nd of [1, 2, 4]) {
  for (const stage of [0, 1, 2, 3]) {
    const port = await freePort();
    const config = { ...raw, backend: 'cpu', zero_optimization: { stage, stage3_param_persistence_threshold: 0 } };
    const rts = await Promise.all(Array.from({ length: nd }, (_, rank) => initialize({
      config,
      model: (cfg) => modelConfigFromDs(cfg, cfg.model?.vocab_size ?? 258, { bos: null, eos: null }),
      env: { RANK: String(rank), WORLD_SIZE: String(nd), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), DS_LOG_LEVEL: 'warn' },
    })));
    const m = rts[0]!.engine.memoryReport();
    const states = m.params + m.grads + m.optimizer;
    psi = m.numel;
    const want = paper(stage, m.numel, nd);
    rows.push([nd, stage, m.params, m.grads, m.optimizer, states, (states / m.numel).toFixed(4), want, `${((states / want - 1) * 100).toFixed(4)}%`]);
    await Promise.all(rts.map((rt) => rt.close()));
  }
}
process.stdout.write(`${file}: Ψ = ${psi} parameters; per-rank bytes as allocated (rank 0), float32 Adam\n`);
process.stdout.write(`${formatTable(['Nd', 'stage', 'params B', 'grads B', 'optim B', 'states B', 'bytes/Ψ', 'paper B', 'vs paper'], rows)}\n`);
