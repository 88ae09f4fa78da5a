import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.ts';
import { parseLaunchArgs } from '../../../src/runtime/launcher/cli.ts';

describe('parseLaunchArgs', () => {
  it('stops at the script: everything after it belongs to the script', () => {
    const o = parseLaunchArgs(['--num_gpus', '2', '-H', 'hosts', '-i', 'a@b:0', 'train.ts', '--num_procs', '8', '007', '-x']);
    expect(o.script).toBe('train.ts');
    expect(o.scriptArgs).toEqual(['--num_procs', '8', '007', '-x']);
    expect(o).toMatchObject({ numProcs: 2, hostfile: 'hosts', include: 'a@b:0', masterPort: 29500, sshCmd: 'ssh', graceMs: 5000 });
  });
  it('splits --launcher_args and reads the launcher choice', () => {
    const o = parseLaunchArgs(['--launcher', 'mpirun', '--launcher_args=--bind-to none  --tag-output', 'x.mjs']);
    expect(o.launcher).toBe('mpirun');
    expect(o.launcherArgs).toEqual(['--bind-to', 'none', '--tag-output']);
  });
  it.each([
    [[], 'name the script to run'],
    [['--launcher', 'pdsh', 'x.ts'], 'Invalid values'],
    [['--no_such_flag', '1', 'x.ts'], 'Unknown argument'],
    [['--master_port', '70000', 'x.ts'], '--master_port must be an integer in 1..65535, got 70000'],
  ])('rejects %j', (argv, message) => {
    expect(() => parseLaunchArgs(argv)).toThrow(LaunchError);
    expect(() => parseLaunchArgs(argv)).toThrow(message);
  });
});
