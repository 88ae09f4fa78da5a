/**
 * The ssh launcher: one ssh per node, each running this launcher in local mode for that node
 * (`ds-launch --node_rank K --world_info ...`), which starts the node's LOCAL_SIZE ranks and
 * numbers them globally — DeepSpeed's runner → launch.py split.
 *
 *   ssh worker-1 'cd /job && env DS_X=1 node .../ds-launch.js --node_rank 1 --world_info W ... train.ts args'
 */
import { fileURLToPath } from 'node:url';
import { LaunchError } from '../../errors.ts';
import type { Command, JobInfo } from './env.ts';
import type { NodeSlots } from './selection.ts';
import { supervise, type SuperviseResult } from './supervise.ts';

export interface SshLaunch {
  readonly nodes: readonly NodeSlots[];
  readonly job: JobInfo;
  readonly script: string;
  readonly scriptArgs: readonly string[];
  /** The ssh program and its options, split on whitespace: `ssh -p 2222`. */
  readonly sshCmd: string;
  /** Working directory on every node (a shared filesystem is assumed, as DeepSpeed does). */
  readonly cwd: string;
  /** Sent as `env K=V` in front of the remote command. */
  readonly forwardEnv: Readonly<Record<string, string>>;
  readonly graceMs: number;
}

/** POSIX shell single-quoting: safe for any string. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The selection, as the per-node launcher receives it (base64url JSON: nothing to quote). */
export function encodeWorldInfo(nodes: readonly NodeSlots[]): string {
  return Buffer.from(JSON.stringify(nodes.map((n) => ({ host: n.host, slots: n.slots })))).toString('base64url');
}

export function decodeWorldInfo(text: string): NodeSlots[] {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value)) throw new Error('not a list');
    return value.map((n: { host?: unknown; slots?: unknown }) => {
      if (typeof n.host !== 'string' || !Array.isArray(n.slots) || !n.slots.every((s) => Number.isInteger(s))) {
        throw new Error('bad node entry');
      }
      return { host: n.host, slots: n.slots as number[] };
    });
  } catch (err) {
    throw new LaunchError(`--world_info is not a valid encoded selection: ${(err as Error).message}`);
  }
}

const launcherBin = (): string => fileURLToPath(new URL('../../../bin/ds-launch.js', import.meta.url));

/** The ssh command that starts node `nodeRank`'s ranks. */
export function buildSshCommand(plan: SshLaunch, nodeRank: number): Command {
  const node = plan.nodes[nodeRank];
  if (!node) throw new RangeError(`node rank ${nodeRank} is outside the ${plan.nodes.length} selected nodes`);
  const inner = [
    process.execPath, launcherBin(),
    '--node_rank', String(nodeRank),
    '--world_info', encodeWorldInfo(plan.nodes),
    '--master_addr', plan.job.masterAddr,
    '--master_port', String(plan.job.masterPort),
    '--kill_grace_s', String(plan.graceMs / 1000),
    ...(plan.job.config !== undefined ? ['--config', plan.job.config] : []),
    plan.script, ...plan.scriptArgs,
  ];
  const env = Object.entries(plan.forwardEnv).map(([k, v]) => `${k}=${v}`);
  const remote = `cd ${shellQuote(plan.cwd)} && ${['env', ...env, ...inner].map(shellQuote).join(' ')}`;
  const [ssh, ...sshOpts] = plan.sshCmd.trim().split(/\s+/);
  if (!ssh) throw new LaunchError('--ssh_cmd is empty');
  return { command: ssh, args: [...sshOpts, node.host, remote] };
}

export function launchSsh(plan: SshLaunch): Promise<SuperviseResult> {
  const specs = plan.nodes.map((node, k) => {
    const { command, args } = buildSshCommand(plan, k);
    // The remote launcher already prefixes `[rank N] `; we only keep lines whole.
    return { name: `host ${node.host} (node ${k})`, command, args, env: process.env, prefix: '' };
  });
  return supervise(specs, { graceMs: plan.graceMs });
}
