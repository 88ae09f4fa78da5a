import { describe, expect, it } from 'vitest';
import { forwardedEnv, nodeRankEnvs, scriptCommand } from '../../../src/runtime/launcher/env.ts';

const job = { masterAddr: 'worker-0', masterPort: 29600, launcher: 'ssh' as const, config: '/cfg/ds.json5' };
const nodes = [
  { host: 'worker-0', slots: [0, 1] },
  { host: 'worker-1', slots: [1, 2, 3] },
];

describe('nodeRankEnvs', () => {
  it('numbers ranks node by node with local ranks from 0', () => {
    const envs = nodeRankEnvs(nodes, 1, job);
    expect(envs.map((e) => [e.RANK, e.LOCAL_RANK, e.LOCAL_SIZE, e.WORLD_SIZE, e.NODE_RANK])).toEqual([
      ['2', '0', '3', '5', '1'],
      ['3', '1', '3', '5', '1'],
      ['4', '2', '3', '5', '1'],
    ]);
    expect(envs[0]).toMatchObject({ MASTER_ADDR: 'worker-0', MASTER_PORT: '29600', DS_LAUNCHER: 'ssh', DS_CONFIG: '/cfg/ds.json5' });
  });
  it('covers every rank exactly once across nodes', () => {
    const ranks = [0, 1].flatMap((k) => nodeRankEnvs(nodes, k, job).map((e) => Number(e.RANK)));
    expect(ranks).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('scriptCommand', () => {
  it('runs .ts through the package\'s loader (bin/register.js or tsx) and appends --config', () => {
    const c = scriptCommand('train.ts', ['--steps', '3'], '/cfg/ds.json5');
    expect(c.command).toBe(process.execPath);
    expect(c.args[0]).toBe('--import');
    expect(c.args[1]).toMatch(/^file:\/\/.*(bin\/register\.js|node_modules\/tsx\/dist\/esm\/index\.mjs)$/);
    expect(c.args.slice(2)).toEqual(['train.ts', '--steps', '3', '--config', '/cfg/ds.json5']);
  });
  it('runs .mjs on node directly', () => {
    expect(scriptCommand('job.mjs', ['x']).args).toEqual(['job.mjs', 'x']);
  });
});

describe('forwardedEnv', () => {
  it('carries DS_*, TF_* and node options only', () => {
    expect(forwardedEnv({ DS_LOG_LEVEL: 'debug', TF_CPP: '1', NODE_OPTIONS: '--x', HOME: '/root', PATH: '/bin' })).toEqual({
      DS_LOG_LEVEL: 'debug',
      TF_CPP: '1',
      NODE_OPTIONS: '--x',
    });
  });
});
