/**
 * `ds bench comm`: spawns the ranks as child processes on 127.0.0.1, times all-reduce,
 * reduce-scatter and all-gather over a range of sizes, and reports them as nccl-tests does:
 *   algbw = size / time,  busbw = algbw · 2(n-1)/n (all-reduce), algbw · (n-1)/n (the others),
 * where size is the full buffer ([n*m] elements). The raw loopback figure is one big TCP stream
 * between two processes, measured in the same run, read the way the transport reads (the
 * receiver dials and reads through `onread` into one reused buffer): the best one stream does
 * here, so busbw/raw is not flattered by a slow baseline. It runs one way, while a 2-rank ring
 * sends both ways at once on the same two cores.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { CommError } from '../../errors.ts';
import { receiveRate, sendAll } from './bench_streams.ts';
import type { BenchKind, RankTiming, WorkerConfig } from './bench_worker.ts';

const WORKER = fileURLToPath(new URL('./bench_worker.ts', import.meta.url));

export interface CommBenchOptions {
  numProcs: number;
  minBytes?: number;
  maxBytes?: number;
  /** Size step: 4 gives 1K, 4K, 16K … (default 4). */
  factor?: number;
  chunkBytes?: number;
  kinds?: BenchKind[];
}

export interface CommBenchRow { kind: BenchKind; bytes: number; iters: number; timeUs: number; algbwGBps: number; busbwGBps: number }
export interface CommBenchResult {
  numProcs: number;
  chunkBytes: number;
  /** One stream, one way. */
  rawLoopbackGBps: number;
  /** Two streams, both ways at once: per direction. */
  duplexLoopbackGBps: number;
  rows: CommBenchRow[];
}

export async function runCommBench(opts: CommBenchOptions): Promise<CommBenchResult> {
  const n = opts.numProcs;
  if (!Number.isInteger(n) || n < 2) throw new CommError(`--num_procs ${n}: the comm bench needs at least 2 ranks`);
  const minBytes = opts.minBytes ?? 1 << 10;
  const maxBytes = opts.maxBytes ?? 64 << 20;
  const factor = opts.factor ?? 4;
  const sizes: number[] = [];
  for (let s = minBytes; s <= maxBytes; s *= factor) sizes.push(s);
  const cfg: WorkerConfig = {
    kinds: opts.kinds ?? ['allReduce', 'reduceScatter', 'allGather'],
    sizes, chunkBytes: opts.chunkBytes ?? 1 << 20, minIters: 3, maxIters: 200, targetBytes: 256 << 20,
  };
  const rawLoopbackGBps = await measureLoopback(Math.max(256 << 20, 4 * maxBytes));
  const duplexLoopbackGBps = await measureDuplexLoopback(Math.max(256 << 20, 4 * maxBytes));
  const perRank = await runRanks(n, cfg);
  const rows: CommBenchRow[] = perRank[0]!.map((t, i) => {
    // The slowest rank's time is the collective's time.
    const seconds = Math.max(...perRank.map((r) => r[i]!.seconds));
    const algbw = t.bytes / seconds / 1e9;
    const busFactor = t.kind === 'allReduce' ? (2 * (n - 1)) / n : (n - 1) / n;
    return { kind: t.kind, bytes: t.bytes, iters: t.iters, timeUs: seconds * 1e6, algbwGBps: algbw, busbwGBps: algbw * busFactor };
  });
  return { numProcs: n, chunkBytes: cfg.chunkBytes, rawLoopbackGBps, duplexLoopbackGBps, rows };
}

function runRanks(n: number, cfg: WorkerConfig): Promise<RankTiming[][]> {
  return freePort().then((port) =>
    Promise.all(
      Array.from({ length: n }, (_, rank) =>
        spawnWorker({ DS_BENCH_MODE: 'rank', RANK: String(rank), WORLD_SIZE: String(n), LOCAL_RANK: String(rank), LOCAL_SIZE: String(n), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), DS_BENCH_CONFIG: JSON.stringify(cfg) })
          .then((msg) => (msg as { timings: RankTiming[] }).timings),
      ),
    ),
  );
}

function spawnWorker(env: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [], { execArgv: ['--import', 'tsx/esm'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: unknown = null;
    child.on('message', (m) => { reply = m; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(reply) : reject(new CommError(`bench worker (${env.DS_BENCH_MODE} ${env.RANK ?? ''}) exited with code ${code}`))));
  });
}

function forkStreamWorker(mode: 'stream' | 'duplex', bytes: number) {
  const child = fork(WORKER, [], { execArgv: ['--import', 'tsx/esm'], env: { ...process.env, DS_BENCH_MODE: mode, DS_BENCH_STREAM_BYTES: String(bytes) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new CommError(`bench worker (${mode}) exited with code ${code}`)))));
  const message = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once('message', (m) => resolve(m as T));
      child.once('error', reject);
      exited.catch(reject);
    });
  return { child, exited, message };
}

/**
 * GB/s of one TCP stream from a child process into this one, first byte to last. The child
 * listens and sends; this process dials and reads into one reused 1 MiB buffer (`onread`).
 */
async function measureLoopback(bytes: number): Promise<number> {
  const w = forkStreamWorker('stream', bytes);
  const { port } = await w.message<{ port: number }>();
  const gbps = await receiveRate('127.0.0.1', port);
  await w.exited;
  return gbps;
}

/**
 * Both directions at once between this process and a child, each side sending `bytes` while it
 * receives the other's: per direction, the slower of the two received rates. This is what two
 * ring neighbours on these cores can move, the fair ceiling for a 2-rank all-reduce's busbw.
 */
async function measureDuplexLoopback(bytes: number): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const w = forkStreamWorker('duplex', bytes);
  const { port } = await w.message<{ port: number }>();
  const childRate = w.message<{ gbps: number }>();
  const inbound = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  w.child.send({ port: (server.address() as net.AddressInfo).port });
  const [mine] = await Promise.all([receiveRate('127.0.0.1', port), inbound.then((sock) => sendAll(sock, bytes))]);
  const { gbps: theirs } = await childRate;
  await w.exited;
  server.close();
  return Math.min(mine, theirs);
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export function formatBytes(b: number): string {
  return b >= 1 << 20 ? `${b / (1 << 20)} MiB` : b >= 1 << 10 ? `${b / (1 << 10)} KiB` : `${b} B`;
}

/** The nccl-tests style table. */
export function formatCommBench(r: CommBenchResult): string {
  const lines = [
    `# ${r.numProcs} ranks on 127.0.0.1, chunk ${formatBytes(r.chunkBytes)}; raw loopback TCP read into a reused buffer: ` +
      `one way ${r.rawLoopbackGBps.toFixed(2)} GB/s (raw), both ways at once ${r.duplexLoopbackGBps.toFixed(2)} GB/s per direction (duplex)`,
  ];
  lines.push(['collective', 'size', 'iters', 'time (us)', 'algbw (GB/s)', 'busbw (GB/s)', 'busbw/raw', 'busbw/duplex'].map((h, i) => (i < 2 ? h.padEnd(14) : h.padStart(13))).join(''));
  for (const row of r.rows) {
    lines.push([
      row.kind.padEnd(14), formatBytes(row.bytes).padEnd(14), String(row.iters).padStart(13), row.timeUs.toFixed(1).padStart(13),
      row.algbwGBps.toFixed(3).padStart(13), row.busbwGBps.toFixed(3).padStart(13), `${((100 * row.busbwGBps) / r.rawLoopbackGBps).toFixed(0)}%`.padStart(13),
      `${((100 * row.busbwGBps) / r.duplexLoopbackGBps).toFixed(0)}%`.padStart(13),
    ].join(''));
  }
  return lines.join('\n');
}
