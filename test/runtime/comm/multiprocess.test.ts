/** Two real processes (child_process.fork with tsx) all-reduce over TCP, launched via env like ds-launch. */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { freePort, maxAbsError, randomArray, reference } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/allreduce_child.ts', import.meta.url));

interface Report { rank: number; result: string; sent: number }

it('two forked ranks all-reduce to the reference, with identical bytes', async () => {
  const W = 2;
  const length = 100_003;
  const masterPort = await freePort();
  const reports = await Promise.all(
    Array.from({ length: W }, (_, rank) =>
      new Promise<Report>((resolve, reject) => {
        const child = fork(CHILD, [], {
          execArgv: ['--import', 'tsx/esm'],
          env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(W), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(masterPort), TEST_LENGTH: String(length) },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        let report: Report | null = null;
        child.on('message', (m) => { report = m as Report; });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 && report ? resolve(report) : reject(new Error(`rank ${rank} exited with ${code}`))));
      }),
    ),
  );
  const results = reports.map((r) => new Float32Array(new Uint8Array(Buffer.from(r.result, 'base64')).buffer));
  const want = reference([randomArray(length, 11), randomArray(length, 12)], 'sum');
  expect(maxAbsError(results[0]!, want)).toBeLessThanOrEqual(2 * 4 * 2 ** -24);
  expect(Buffer.from(results[0]!.buffer).equals(Buffer.from(results[1]!.buffer))).toBe(true);
  // Each rank sends half the buffer twice (reduce-scatter, then all-gather), plus frame headers.
  for (const r of reports) expect(r.sent).toBeGreaterThanOrEqual(length * 4);
}, 30_000);
