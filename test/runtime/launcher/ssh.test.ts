import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSshCommand, decodeWorldInfo, encodeWorldInfo, shellQuote } from '../../../src/runtime/launcher/ssh.ts';
import { envLines, FIXTURES, freePort, runLaunch } from './helpers.ts';

const nodes = [
  { host: 'w0', slots: [0, 1] },
  { host: 'w1', slots: [2, 3] },
];

describe('ssh command', () => {
  it('quotes any string so a POSIX shell gives it back unchanged', () => {
    const tricky = ["it's", 'a b', '$HOME', '"q"', '`x`', '', 'plain-1.ts'];
    const echoed = execFileSync('sh', ['-c', `printf '%s\\n' ${tricky.map(shellQuote).join(' ')}`], { encoding: 'utf8' });
    expect(echoed).toBe(tricky.map((s) => s + '\n').join(''));
  });
  it('round-trips the selection through --world_info', () => {
    expect(decodeWorldInfo(encodeWorldInfo(nodes))).toEqual(nodes);
    expect(() => decodeWorldInfo('bm9wZQ')).toThrow('--world_info is not a valid encoded selection');
  });
  it('runs one per-node launcher per host with forwarded env', () => {
    const job = { masterAddr: 'w0', masterPort: 29600, launcher: 'ssh' as const };
    const plan = { nodes, job, script: 'train.ts', scriptArgs: ['--x', "a'b"], sshCmd: 'ssh -p 2222', cwd: '/job dir', forwardEnv: { DS_LOG_LEVEL: 'debug' }, graceMs: 2000 };
    const c = buildSshCommand(plan, 1);
    expect(c.command).toBe('ssh');
    expect(c.args.slice(0, 3)).toEqual(['-p', '2222', 'w1']);
    const remote = c.args[3] ?? '';
    expect(remote.startsWith("cd '/job dir' && env DS_LOG_LEVEL=debug ")).toBe(true);
    expect(remote).toContain(`--node_rank 1 --world_info ${encodeWorldInfo(nodes)} --master_addr w0 --master_port 29600`);
    expect(remote.endsWith(`train.ts --x 'a'\\''b'`)).toBe(true);
  });
});

describe('ssh launcher through a stand-in ssh', () => {
  it('2 hosts x 2 slots give ranks 0..3 with per-node local ranks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-ssh-'));
    writeFileSync(join(dir, 'hosts'), '# two names for this machine\nlocalhost slots=2\n127.0.0.1 slots=2\n');
    const port = await freePort();
    const r = await runLaunch(['-H', 'hosts', '--ssh_cmd', `sh ${FIXTURES}fake-ssh.sh`, '--master_port', String(port), `${FIXTURES}print-env.ts`, 'hi'], {
      cwd: dir,
      env: { ...process.env, DS_TEST_FORWARD: 'yes' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = envLines(r.stdout).sort((a, b) => Number(a.RANK) - Number(b.RANK));
    expect(lines.map((l) => [l.RANK, l.LOCAL_RANK, l.NODE_RANK, l.LOCAL_SIZE, l.WORLD_SIZE])).toEqual([
      ['0', '0', '0', '2', '4'],
      ['1', '1', '0', '2', '4'],
      ['2', '0', '1', '2', '4'],
      ['3', '1', '1', '2', '4'],
    ]);
    for (const l of lines) expect(l).toMatchObject({ MASTER_ADDR: 'localhost', MASTER_PORT: String(port), DS_LAUNCHER: 'ssh', argv: ['hi'] });
    for (const line of r.stdout.trim().split('\n')) expect(line).toMatch(/^\[rank [0-3]\] \{/);
  });
});
