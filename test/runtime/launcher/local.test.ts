import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, envLines, FIXTURES, freePort, runLaunch, waitFor } from './helpers.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ds-launch-test-'));
const pidOf = (dir: string, rank: number): number => Number(readFileSync(join(dir, `${rank}.pid`), 'utf8'));

describe('local launcher', () => {
  it('starts 2 ranks of a .ts script with their env, --config and [rank N] prefixes', async () => {
    const port = await freePort();
    const cfg = join(tmp(), 'ds.json5');
    writeFileSync(cfg, '{}');
    const r = await runLaunch(['--num_procs', '2', '--master_port', String(port), '--config', cfg, `${FIXTURES}print-env.ts`, '--steps', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n').sort();
    expect(out.map((l) => l.slice(0, 9))).toEqual(['[rank 0] ', '[rank 1] ']);
    const lines = envLines(r.stdout).sort((a, b) => Number(a.RANK) - Number(b.RANK));
    expect(lines.map((l) => [l.RANK, l.LOCAL_RANK, l.WORLD_SIZE, l.LOCAL_SIZE])).toEqual([
      ['0', '0', '2', '2'],
      ['1', '1', '2', '2'],
    ]);
    for (const l of lines) {
      expect(l).toMatchObject({ MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), DS_LAUNCHER: 'local', DS_CONFIG: cfg });
      expect(l.argv).toEqual(['--steps', '3', '--config', cfg]);
    }
  });

  it('runs one rank of a .mjs script without a prefix', async () => {
    const r = await runLaunch(['--master_port', String(await freePort()), `${FIXTURES}print-env.mjs`]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('{')).toBe(true);
    expect(envLines(r.stdout)[0]).toMatchObject({ RANK: '0', WORLD_SIZE: '1' });
  });

  it('a rank exiting 3 stops the job within seconds, naming the rank; the sleeping rank is gone', async () => {
    const dir = tmp();
    const r = await runLaunch(['--num_procs', '2', '--master_port', String(await freePort()), `${FIXTURES}fail.mjs`, dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('ds-launch: error: rank 1 exited with code 3');
    expect(r.stdout).toContain('[rank 1] giving up\n');
    expect(r.ms).toBeLessThan(4000);
    expect(alive(pidOf(dir, 0))).toBe(false);
  });

  it('SIGTERM to ds-launch stops every rank, with SIGKILL for one that ignores SIGTERM', async () => {
    const dir = tmp();
    const args = ['--num_procs', '2', '--kill_grace_s', '0.5', '--master_port', String(await freePort()), `${FIXTURES}sleep.mjs`, dir, 'ignore-term'];
    const r = await runLaunch(args, {
      onStart: (child) => {
        void waitFor(() => existsSync(join(dir, '0.pid')) && existsSync(join(dir, '1.pid')), 8000).then(() => child.kill('SIGTERM'));
      },
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('stopped by SIGTERM');
    expect(alive(pidOf(dir, 0))).toBe(false);
    expect(alive(pidOf(dir, 1))).toBe(false);
  });

  it('a missing script is one clear line, no stack', async () => {
    const r = await runLaunch(['no/such/train.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ds-launch: error: script not found: no\/such\/train\.ts \(looked for .*\)\n$/);
  });

  it('an unknown host in --include is one clear line', async () => {
    const r = await runLaunch(['-i', 'worker-3', `${FIXTURES}print-env.mjs`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ds-launch: error: --include: unknown host worker-3; known hosts: localhost\n');
  });

  it('a taken MASTER_PORT is reported before any rank starts', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await runLaunch(['--num_procs', '2', '--master_port', String(port), `${FIXTURES}print-env.mjs`]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`MASTER_PORT ${port} on 127.0.0.1 is already in use`);
      expect(r.stderr).toContain('--master_port');
    } finally {
      server.close();
    }
  });
});
