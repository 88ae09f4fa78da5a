/**
 * A child process of `ds bench comm`. Mode `rank`: one rank of the timed collectives; it reports
 * its per-size times to the parent over IPC. Mode `stream`: sends one big TCP stream to the
 * parent (which dials in), for the raw loopback figure the collectives are compared with.
 */
import net from 'node:net';
import { receiveRate, sendAll } from './bench_streams.ts';
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
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const sock = await new Promise<net.Socket>((resolve) => {
    server.once('connection', resolve);
    process.send!({ port: (server.address() as net.AddressInfo).port });
  });
  await sendAll(sock, Number(process.env.DS_BENCH_STREAM_BYTES));
  server.close();
  process.disconnect();
}

/**
 * Both directions at once, as a 2-rank ring moves data: the parent dials us and we send on that
 * socket, while we dial the parent and read what it sends. Reports the rate we received.
 */
async function duplexMain(): Promise<void> {
  const total = Number(process.env.DS_BENCH_STREAM_BYTES);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const parentPort = await new Promise<number>((resolve) => {
    process.once('message', (m) => resolve((m as { port: number }).port));
    process.send!({ port: (server.address() as net.AddressInfo).port });
  });
  const inbound = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const [gbps] = await Promise.all([receiveRate('127.0.0.1', parentPort), inbound.then((sock) => sendAll(sock, total))]);
  server.close();
  process.send!({ gbps }, () => process.disconnect());
}

const mode = process.env.DS_BENCH_MODE;
await (mode === 'stream' ? streamMain() : mode === 'duplex' ? duplexMain() : rankMain());
