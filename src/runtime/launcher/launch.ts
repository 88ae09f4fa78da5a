/**
 * From parsed flags to a running job: check the script and config, build the host pool
 * (hostfile, or this machine), select slots, fill in defaults, and hand off to one launcher.
 */
import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { LaunchError } from '../../errors.ts';
import { forwardedEnv, type JobInfo, type LauncherName } from './env.ts';
import { readHostfile, type HostSlots } from './hostfile.ts';
import { launchLocal } from './local.ts';
import { defaultForwardNames, launchMpirun } from './mpirun.ts';
import { selectSlots, type NodeSlots } from './selection.ts';
import { launchSlurm } from './slurm.ts';
import { decodeWorldInfo, launchSsh } from './ssh.ts';
import type { SuperviseResult } from './supervise.ts';

export interface LaunchOptions {
  readonly script: string;
  readonly scriptArgs: readonly string[];
  readonly numProcs?: number | undefined;
  readonly numNodes?: number | undefined;
  readonly hostfile?: string | undefined;
  readonly include?: string | undefined;
  readonly exclude?: string | undefined;
  readonly masterAddr?: string | undefined;
  readonly masterPort: number;
  readonly launcher?: LauncherName | undefined;
  readonly launcherArgs: readonly string[];
  readonly sshCmd: string;
  readonly config?: string | undefined;
  readonly graceMs: number;
  /** Set when a remote ssh launcher runs this node's ranks (with worldInfo). */
  readonly nodeRank?: number | undefined;
  readonly worldInfo?: string | undefined;
}

function checkFile(path: string, what: string): string {
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new LaunchError(`${what} not found: ${path} (looked for ${abs})`);
  return abs;
}

/**
 * Without a hostfile the pool is this machine with --num_procs slots (or, for mpirun/slurm,
 * --num_nodes nodes of that size that the scheduler places).
 */
function hostPool(opts: LaunchOptions): HostSlots[] {
  if (opts.hostfile !== undefined) return readHostfile(opts.hostfile);
  const slots = opts.numProcs ?? 1;
  if (!Number.isInteger(slots) || slots < 1) throw new LaunchError(`--num_procs must be a positive integer, got ${slots}`);
  const nodes = opts.numNodes ?? 1;
  if (!Number.isInteger(nodes) || nodes < 1) throw new LaunchError(`--num_nodes must be a positive integer, got ${nodes}`);
  if (nodes === 1) return [{ host: 'localhost', slots }];
  return Array.from({ length: nodes }, (_, i) => ({ host: `node-${i}`, slots }));
}

function select(opts: LaunchOptions): NodeSlots[] {
  const pool = hostPool(opts);
  const counts = opts.hostfile !== undefined ? { numNodes: opts.numNodes, numProcs: opts.numProcs } : {};
  return selectSlots(pool, { include: opts.include, exclude: opts.exclude, ...counts });
}

export async function launch(opts: LaunchOptions): Promise<SuperviseResult> {
  checkFile(opts.script, 'script');
  const config = opts.config !== undefined ? checkFile(opts.config, 'config file') : undefined;
  const common = { script: opts.script, scriptArgs: opts.scriptArgs, graceMs: opts.graceMs };

  // A node of an ssh job: run this node's share, numbered within the whole job.
  if (opts.worldInfo !== undefined || opts.nodeRank !== undefined) {
    if (opts.worldInfo === undefined || opts.nodeRank === undefined) throw new LaunchError('--node_rank and --world_info go together');
    const nodes = decodeWorldInfo(opts.worldInfo);
    const job: JobInfo = { masterAddr: opts.masterAddr ?? '127.0.0.1', masterPort: opts.masterPort, launcher: 'ssh', config };
    if (!Number.isInteger(opts.nodeRank) || !nodes[opts.nodeRank]) throw new LaunchError(`--node_rank ${opts.nodeRank} is outside the ${nodes.length} nodes of --world_info`);
    return launchLocal({ ...common, nodes, nodeRank: opts.nodeRank, job });
  }

  const nodes = select(opts);
  const launcher: LauncherName = opts.launcher ?? (opts.hostfile !== undefined ? 'ssh' : 'local');
  const first = nodes[0]?.host ?? 'localhost';
  // Without a hostfile, a multi-node mpirun/srun job is started from one of its nodes
  // (the batch host), which then serves the rendezvous.
  const masterAddr = opts.masterAddr ?? (opts.hostfile !== undefined ? first : nodes.length > 1 ? hostname() : '127.0.0.1');
  const job: JobInfo = { masterAddr, masterPort: opts.masterPort, launcher, config };
  switch (launcher) {
    case 'local':
      if (nodes.length > 1) {
        throw new LaunchError(`the local launcher runs one node, but ${nodes.length} are selected (${nodes.map((n) => n.host).join(', ')}); use --launcher ssh, mpirun or slurm`);
      }
      return launchLocal({ ...common, nodes, nodeRank: 0, job });
    case 'ssh':
      if (opts.hostfile === undefined) throw new LaunchError('the ssh launcher needs --hostfile');
      return launchSsh({ ...common, nodes, job, sshCmd: opts.sshCmd, cwd: process.cwd(), forwardEnv: forwardedEnv(process.env) });
    case 'mpirun':
      return launchMpirun({
        ...common, nodes, job, launcherArgs: opts.launcherArgs,
        isRoot: process.getuid?.() === 0, forwardNames: defaultForwardNames(),
      });
    case 'slurm':
      return launchSlurm({ ...common, nodes, job, launcherArgs: opts.launcherArgs, pinHosts: opts.hostfile !== undefined });
  }
}
