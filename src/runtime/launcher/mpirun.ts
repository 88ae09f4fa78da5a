/**
 * The mpirun launcher (Open MPI): one `mpirun` starts every rank; ranks learn their place from
 * OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK / _LOCAL_SIZE. We pass the rendezvous with -x.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardedEnv, jobEnv, scriptCommand, type Command, type JobInfo } from './env.ts';
import { worldSizeOf, type NodeSlots } from './selection.ts';
import { supervise, type SuperviseResult } from './supervise.ts';

export interface MpirunLaunch {
  readonly nodes: readonly NodeSlots[];
  readonly job: JobInfo;
  readonly script: string;
  readonly scriptArgs: readonly string[];
  /** Extra mpirun arguments (--launcher_args), placed before the program. */
  readonly launcherArgs: readonly string[];
  /** Open MPI refuses root without --allow-run-as-root. */
  readonly isRoot: boolean;
  /** Variable names exported by value from the launcher's environment. */
  readonly forwardNames: readonly string[];
  readonly graceMs: number;
}

/** The selection as an Open MPI hostfile: `host slots=N` with N the selected slot count. */
export function mpirunHostfileText(nodes: readonly NodeSlots[]): string {
  return nodes.map((n) => `${n.host} slots=${n.slots.length}\n`).join('');
}

/** `mpirun -n N --hostfile F [-x VAR ...] [--allow-run-as-root --oversubscribe] [extra] node ... script args`. */
export function buildMpirunCommand(plan: MpirunLaunch, hostfile: string): Command {
  const exports = Object.entries(jobEnv(plan.job)).flatMap(([k, v]) => ['-x', `${k}=${v}`]);
  const forwarded = plan.forwardNames.filter((k) => !(k in jobEnv(plan.job))).flatMap((k) => ['-x', k]);
  const root = plan.isRoot ? ['--allow-run-as-root', '--oversubscribe'] : [];
  const program = scriptCommand(plan.script, plan.scriptArgs, plan.job.config);
  return {
    command: 'mpirun',
    args: [
      '-n', String(worldSizeOf(plan.nodes)),
      '--hostfile', hostfile,
      ...exports, ...forwarded, ...root, ...plan.launcherArgs,
      program.command, ...program.args,
    ],
  };
}

/** Default names to forward: what forwardedEnv picks from this process's environment. */
export function defaultForwardNames(): string[] {
  return Object.keys(forwardedEnv(process.env));
}

export async function launchMpirun(plan: MpirunLaunch): Promise<SuperviseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ds-launch-'));
  const hostfile = join(dir, 'hostfile');
  writeFileSync(hostfile, mpirunHostfileText(plan.nodes));
  try {
    const { command, args } = buildMpirunCommand(plan, hostfile);
    return await supervise([{ name: 'mpirun', command, args, env: process.env, prefix: null }], { graceMs: plan.graceMs });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
