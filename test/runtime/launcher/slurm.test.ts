import { copyFileSync, chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSrunCommand } from '../../../src/runtime/launcher/slurm.ts';
import { envLines, FIXTURES, freePort, runLaunch } from './helpers.ts';

const job = { masterAddr: 'worker-0', masterPort: 29600, launcher: 'slurm' as const };
const base = { job, script: 'job.mjs', scriptArgs: ['a'], launcherArgs: ['--partition=gpu'], graceMs: 1000 };

describe('buildSrunCommand', () => {
  it('asks for N tasks, the nodes and tasks per node, pinned to the hostfile hosts', () => {
    const nodes = [{ host: 'w0', slots: [0, 1] }, { host: 'w1', slots: [0, 1] }];
    expect(buildSrunCommand({ ...base, nodes, pinHosts: true }).args).toEqual([
      '-n', '4', '--nodes=2', '--ntasks-per-node=2', '--nodelist=w0,w1', '--export=ALL', '--partition=gpu',
      process.execPath, 'job.mjs', 'a',
    ]);
  });
  it('lets Slurm place the ranks without a hostfile', () => {
    const args = buildSrunCommand({ ...base, nodes: [{ host: 'localhost', slots: [0, 1, 2] }], pinHosts: false }).args;
    expect(args.slice(0, 4)).toEqual(['-n', '3', '--nodes=1', '--ntasks-per-node=3']);
    expect(args.some((a) => a.startsWith('--nodelist'))).toBe(false);
  });
  it('refuses uneven nodes, naming the counts', () => {
    const nodes = [{ host: 'w0', slots: [0, 1] }, { host: 'w1', slots: [0] }];
    expect(() => buildSrunCommand({ ...base, nodes, pinHosts: true })).toThrow('got w0:2, w1:1');
  });
});

describe('slurm launcher through a stand-in srun', () => {
  it('each rank sees SLURM_* from srun and the rendezvous from ds-launch', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'fake-srun-'));
    copyFileSync(`${FIXTURES}fake-srun.sh`, join(bin, 'srun'));
    chmodSync(join(bin, 'srun'), 0o755);
    const port = await freePort();
    const r = await runLaunch(
      ['--launcher', 'slurm', '--num_nodes', '2', '--num_procs', '2', '--master_addr', '127.0.0.1', '--master_port', String(port), `${FIXTURES}print-env.mjs`],
      { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
    );
    expect(r.code).toBe(0);
    const lines = envLines(r.stdout).sort((a, b) => Number(a.SLURM_PROCID) - Number(b.SLURM_PROCID));
    expect(lines.map((l) => [l.SLURM_PROCID, l.SLURM_NTASKS, l.SLURM_LOCALID, l.SLURM_NODEID])).toEqual([
      ['0', '4', '0', '0'], ['1', '4', '1', '0'], ['2', '4', '0', '1'], ['3', '4', '1', '1'],
    ]);
    for (const l of lines) expect(l).toMatchObject({ MASTER_PORT: String(port), DS_LAUNCHER: 'slurm' });
  });
});
