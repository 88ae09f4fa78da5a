/**
 * `ds bench serve --model M` starts `ds serve` in a child process, as a user would, so that the
 * benchmark client's own work (fetch streams, SSE parsing) never runs on the server's event loop
 * between engine steps, and the figures are those of the server a user runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../errors.ts';

export interface ChildServerOptions {
  readonly model: string;
  readonly servedModelName: string;
  readonly threads: number;
  readonly maxNumSeqs: number;
  readonly maxWaiting: number;
  readonly kvCacheMemory: string;
  /** Tokens per KV block (ds serve --block-size); the server's default when absent. */
  readonly blockSize?: number;
  /** How long the model may take to load (ms). */
  readonly readyTimeoutMs?: number;
}

export interface ChildServer {
  readonly url: string;
  stop(): Promise<void>;
}

const DS = fileURLToPath(new URL('../../../bin/ds.js', import.meta.url));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

export async function startChildServer(o: ChildServerOptions): Promise<ChildServer> {
  const port = await freePort();
  const args = [DS, 'serve', '--model', o.model, '--port', String(port), '--served-model-name', o.servedModelName, '--threads', String(o.threads),
    '--max-num-seqs', String(o.maxNumSeqs), '--max-waiting', String(o.maxWaiting), '--kv-cache-memory', o.kvCacheMemory,
    ...(o.blockSize === undefined ? [] : ['--block-size', String(o.blockSize)])];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!gone) child.kill('SIGINT');
    await exited;
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 300_000);
  for (;;) {
    if (gone) throw new InputError(`bench serve: ds serve --model ${o.model} exited before it was ready:\n${stderr.trim()}`);
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) return { url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new InputError(`bench serve: ds serve --model ${o.model} was not ready within ${(o.readyTimeoutMs ?? 300_000) / 1000} s:\n${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
