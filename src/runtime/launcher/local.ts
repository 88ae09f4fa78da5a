/**
 * The local launcher: the ranks of one node as child processes of this one. Also what the
 * ssh launcher runs on each remote node (`--node_rank K`), as DeepSpeed's launch.py.
 */
import { nodeRankEnvs, scriptCommand, type JobInfo } from './env.ts';
import { checkPortFree, isLocalAddress } from './port.ts';
import type { NodeSlots } from './selection.ts';
import { supervise, type SuperviseResult } from './supervise.ts';

export interface LocalLaunch {
  /** The whole job's selection; this process runs the ranks of `nodes[nodeRank]`. */
  readonly nodes: readonly NodeSlots[];
  readonly nodeRank: number;
  readonly job: JobInfo;
  readonly script: string;
  readonly scriptArgs: readonly string[];
  readonly graceMs: number;
}

export async function launchLocal(plan: LocalLaunch): Promise<SuperviseResult> {
  // Rank 0 will bind the rendezvous port: say now if it is taken.
  if (plan.nodeRank === 0 && isLocalAddress(plan.job.masterAddr)) {
    await checkPortFree(plan.job.masterAddr, plan.job.masterPort);
  }
  const envs = nodeRankEnvs(plan.nodes, plan.nodeRank, plan.job);
  const { command, args } = scriptCommand(plan.script, plan.scriptArgs, plan.job.config);
  const worldSize = Number(envs[0]?.WORLD_SIZE ?? 1);
  const specs = envs.map((env) => ({
    name: `rank ${env.RANK}`,
    command,
    args,
    env: { ...process.env, ...env },
    prefix: worldSize > 1 ? `[rank ${env.RANK}] ` : null,
  }));
  return supervise(specs, { graceMs: plan.graceMs });
}
