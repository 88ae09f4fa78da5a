import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildMpirunCommand, mpirunHostfileText } from '../../../src/runtime/launcher/mpirun.ts';
import { envLines, FIXTURES, freePort, runLaunch } from './helpers.ts';

const nodes = [
  { host: 'worker-0', slots: [0, 1] },
  { host: 'worker-1', slots: [1, 2, 3] },
];
const job = { masterAddr: 'worker-0', masterPort: 29600, launcher: 'mpirun' as const, config: '/c/ds.json5' };
const plan = { nodes, job, script: 'job.mjs', scriptArgs: ['--lr', '0.1'], launcherArgs: ['--bind-to', 'none'], forwardNames: ['DS_LOG_LEVEL'], graceMs: 1000 };

describe('buildMpirunCommand', () => {
  it('exports the rendezvous with -x and runs the script under node', () => {
    const c = buildMpirunCommand({ ...plan, isRoot: false }, '/tmp/h');
    expect(c.command).toBe('mpirun');
    expect(c.args).toEqual([
      '-n', '5', '--hostfile', '/tmp/h',
      '-x', 'MASTER_ADDR=worker-0', '-x', 'MASTER_PORT=29600', '-x', 'DS_LAUNCHER=mpirun', '-x', 'DS_CONFIG=/c/ds.json5',
      '-x', 'DS_LOG_LEVEL', '--bind-to', 'none',
      process.execPath, 'job.mjs', '--lr', '0.1', '--config', '/c/ds.json5',
    ]);
  });
  it('adds --allow-run-as-root --oversubscribe for root', () => {
    const args = buildMpirunCommand({ ...plan, isRoot: true }, '/tmp/h').args;
    expect(args).toContain('--allow-run-as-root');
    expect(args).toContain('--oversubscribe');
  });
  it('writes the selected slot counts as an Open MPI hostfile', () => {
    expect(mpirunHostfileText(nodes)).toBe('worker-0 slots=2\nworker-1 slots=3\n');
  });
});

const hasMpirun = spawnSync('mpirun', ['--version']).status === 0;

const describeMpirun = hasMpirun ? describe : describe.skip;
const title = hasMpirun ? 'mpirun launcher' : 'mpirun launcher (skipped: mpirun is not installed; apt-get install openmpi-bin)';

describeMpirun(title, () => {
  it('starts 2 ranks that read their place from OMPI_COMM_WORLD_*', async () => {
    const port = await freePort();
    const r = await runLaunch(['--launcher', 'mpirun', '--num_procs', '2', '--master_port', String(port), `${FIXTURES}print-env.mjs`, 'z']);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const lines = envLines(r.stdout).sort((a, b) => Number(a.OMPI_COMM_WORLD_RANK) - Number(b.OMPI_COMM_WORLD_RANK));
    expect(lines.map((l) => [l.OMPI_COMM_WORLD_RANK, l.OMPI_COMM_WORLD_SIZE, l.OMPI_COMM_WORLD_LOCAL_RANK])).toEqual([
      ['0', '2', '0'],
      ['1', '2', '1'],
    ]);
    for (const l of lines) expect(l).toMatchObject({ MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), DS_LAUNCHER: 'mpirun', argv: ['z'] });
  });
});
