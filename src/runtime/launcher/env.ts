/**
 * What every rank is told: its place in the job (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_SIZE,
 * NODE_RANK), where the rendezvous is (MASTER_ADDR, MASTER_PORT), which launcher started it
 * (DS_LAUNCHER) and the config (DS_CONFIG) — and the command line that runs the script.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NodeSlots } from './selection.ts';

export type LauncherName = 'local' | 'ssh' | 'mpirun' | 'slurm';
export const LAUNCHERS: readonly LauncherName[] = ['local', 'ssh', 'mpirun', 'slurm'];

/** The job-wide facts every rank shares. `config` is an absolute path when given. */
export interface JobInfo {
  readonly masterAddr: string;
  readonly masterPort: number;
  readonly launcher: LauncherName;
  readonly config?: string | undefined;
}

/** Variables that are the same on every rank. */
export function jobEnv(job: JobInfo): Record<string, string> {
  const env: Record<string, string> = {
    MASTER_ADDR: job.masterAddr,
    MASTER_PORT: String(job.masterPort),
    DS_LAUNCHER: job.launcher,
  };
  if (job.config !== undefined) env.DS_CONFIG = job.config;
  return env;
}

/**
 * The environment of each local rank on node `nodeRank` of the selection; global ranks are
 * numbered node by node (node 0's slots first), as DeepSpeed's launch.py does.
 */
export function nodeRankEnvs(nodes: readonly NodeSlots[], nodeRank: number, job: JobInfo): Record<string, string>[] {
  const node = nodes[nodeRank];
  if (!node) throw new RangeError(`node rank ${nodeRank} is outside the ${nodes.length} selected nodes`);
  const worldSize = nodes.reduce((s, n) => s + n.slots.length, 0);
  const offset = nodes.slice(0, nodeRank).reduce((s, n) => s + n.slots.length, 0);
  return node.slots.map((_, localRank) => ({
    ...jobEnv(job),
    RANK: String(offset + localRank),
    LOCAL_RANK: String(localRank),
    WORLD_SIZE: String(worldSize),
    LOCAL_SIZE: String(node.slots.length),
    NODE_RANK: String(nodeRank),
  }));
}

/**
 * The `--import` URL that makes node run TypeScript: the package's bin/register.js (tsx plus
 * the loader hooks every deepscale process needs) when present, else tsx's ESM loader —
 * resolved from this package so any cwd works.
 */
export function tsxImportUrl(): string {
  const register = new URL('../../../bin/register.js', import.meta.url);
  if (existsSync(register)) return register.href;
  const require = createRequire(import.meta.url);
  return pathToFileURL(require.resolve('tsx/esm')).href;
}

/** A program and its arguments. */
export interface Command {
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * `node [--import tsx/esm] script args [--config PATH]`: `.ts`/`.mts`/`.cts` scripts go through
 * tsx, `.js`/`.mjs`/`.cjs` run on node directly. The config is appended the way DeepSpeed
 * passes `--deepspeed_config`.
 */
export function scriptCommand(script: string, scriptArgs: readonly string[], config?: string): Command {
  const ext = extname(script);
  const loader = ['.ts', '.mts', '.cts', '.tsx'].includes(ext) ? ['--import', tsxImportUrl()] : [];
  const tail = config !== undefined ? ['--config', config] : [];
  return { command: process.execPath, args: [...loader, script, ...scriptArgs, ...tail] };
}

/** Variables carried to remote nodes (ssh, mpirun): deepscale's own, TensorFlow's, node's options. */
export function forwardedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^(DS_|TF_)/.test(k) || k === 'NODE_OPTIONS' || k === 'NODE_PATH') out[k] = v;
  }
  return out;
}
