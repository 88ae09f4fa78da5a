/**
 * The slurm launcher: one `srun` starts every rank; ranks learn their place from SLURM_PROCID,
 * SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID. The rendezvous travels in srun's own environment
 * (`--export=ALL`), which avoids quoting values inside --export.
 */
import { LaunchError } from '../../errors.ts';
import { jobEnv, scriptCommand, type Command, type JobInfo } from './env.ts';
import { worldSizeOf, type NodeSlots } from './selection.ts';
import { supervise, type SuperviseResult } from './supervise.ts';

export interface SlurmLaunch {
  readonly nodes: readonly NodeSlots[];
  /** Pin srun to the selected hosts (--nodelist); false lets Slurm place the ranks. */
  readonly pinHosts: boolean;
  readonly job: JobInfo;
  readonly script: string;
  readonly scriptArgs: readonly string[];
  readonly launcherArgs: readonly string[];
  readonly graceMs: number;
}

/** `srun -n N --nodes=K --ntasks-per-node=L [--nodelist=...] --export=ALL [extra] node ... script args`. */
export function buildSrunCommand(plan: SlurmLaunch): Command {
  const perNode = plan.nodes[0]?.slots.length ?? 0;
  const uneven = plan.nodes.find((n) => n.slots.length !== perNode);
  if (uneven) {
    const counts = plan.nodes.map((n) => `${n.host}:${n.slots.length}`).join(', ');
    throw new LaunchError(`the slurm launcher needs the same number of ranks on every node (--ntasks-per-node); got ${counts}`);
  }
  const program = scriptCommand(plan.script, plan.scriptArgs, plan.job.config);
  return {
    command: 'srun',
    args: [
      '-n', String(worldSizeOf(plan.nodes)),
      `--nodes=${plan.nodes.length}`,
      `--ntasks-per-node=${perNode}`,
      ...(plan.pinHosts ? [`--nodelist=${plan.nodes.map((n) => n.host).join(',')}`] : []),
      '--export=ALL',
      ...plan.launcherArgs,
      program.command, ...program.args,
    ],
  };
}

export function launchSlurm(plan: SlurmLaunch): Promise<SuperviseResult> {
  const { command, args } = buildSrunCommand(plan);
  const env = { ...process.env, ...jobEnv(plan.job) };
  return supervise([{ name: 'srun', command, args, env, prefix: null }], { graceMs: plan.graceMs });
}
