/**
 * A child process of `ds bench comm`. Mode `rank`: one rank of the timed collectives; it reports
 * its per-size times to the parent over IPC. Mode `stream`: sends one big TCP stream to the
 * parent (which dials in), for the raw loopback figure the collectives are compared with.
 */
import net from 'node:net';
import { initProcessGroup } from './init.ts';
import { readDistEnv } from './env.ts';
import type { ProcessGroup } from './types.ts';

export interface WorkerConfig {
  kinds: BenchKind[];
  sizes: number[];
  chunkBytes: number;
  minIters: number;
  /** Bytes to move per measurement; small sizes repeat more (bounded by maxIters). */
  targetBytes: number;
  maxIters: number;
}
export type BenchKind = 'allReduce' | 'reduceScatter' | 'allGather';
export interface RankTiming { kind: BenchKind; bytes: number; iters: number; seconds: number }

export function itersFor(bytes: number, cfg: WorkerConfig): number {
  return Math.max(cfg.minIters, Math.min(cfg.maxIters, Math.ceil(cfg.targetBytes / bytes)));
}

async function runOne(pg: ProcessGroup, kind: BenchKind, bytes: number, iters: number): Promise<number> {
  const n = pg.worldSize;
  const count = Math.floor(bytes / 4 / n) * n; // [n * m] elements, m per rank
  const big = new Float32Array(count).fill(1);
  const small = new Float32Array(count / n);
  const once = (): Promise<void> =>
    kind === 'allReduce' ? pg.allReduce(big) : kind === 'reduceScatter' ? pg.reduceScatter(big, small) : pg.allGather(small, big);
  await once(); // warm-up: connections, JIT
  await pg.barrier();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await once();
  return Number(process.hrtime.bigint() - t0) / 1e9 / iters;
}

async function rankMain(): Promise<void> {
  const cfg = JSON.parse(process.env.DS_BENCH_CONFIG ?? '{}') as WorkerConfig;
  const env = readDistEnv(process.env);
  const pg = await initProcessGroup({ ...env, timeoutMs: 120_000, chunkBytes: cfg.chunkBytes });
  const timings: RankTiming[] = [];
  for (const kind of cfg.kinds) {
    for (const bytes of cfg.sizes) {
      const iters = itersFor(bytes, cfg);
      timings.push({ kind, bytes, iters, seconds: await runOne(pg, kind, bytes, iters) });
    }
  }
  await pg.barrier();
  process.send!({ rank: env.rank, timings }, () => {
    void pg.destroy().then(() => process.disconnect());
  });
}

/** Listens on a free port (told to the parent over IPC), sends DS_BENCH_STREAM_BYTES to the first connection, exits. */
async function streamMain(): Promise<void> {
  const total = Number(process.env.DS_BENCH_STREAM_BYTES);
  const block = Buffer.alloc(4 << 20, 1);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const sock = await new Promise<net.Socket>((resolve) => {
    server.once('connection', resolve);
    process.send!({ port: (server.address() as net.AddressInfo).port });
  });
  sock.setNoDelay(true);
  for (let sent = 0; sent < total; sent += block.length) {
    if (!sock.write(block.subarray(0, Math.min(block.length, total - sent)))) await new Promise((r) => sock.once('drain', r));
  }
  await new Promise<void>((r) => sock.end(() => r()));
  server.close();
  process.disconnect();
}

await (process.env.DS_BENCH_MODE === 'stream' ? streamMain() : rankMain());
