/**
 * Hostfiles in DeepSpeed's (and Open MPI's) format: one `host slots=N` per line,
 * `#` starts a comment, blank lines are skipped.
 *
 *   worker-0 slots=4   # four ranks on worker-0
 *   worker-1 slots=4
 */
import { readFileSync } from 'node:fs';
import { LaunchError } from '../../errors.ts';

/** One node and how many ranks it may run. */
export interface HostSlots {
  readonly host: string;
  readonly slots: number;
}

/** Parses hostfile text; `file` names the source in errors (`hosts.txt:3: ...`). */
export function parseHostfile(text: string, file: string): HostSlots[] {
  const hosts: HostSlots[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    const line = (lines[i] ?? '').replace(/#.*$/, '').trim();
    if (line === '') continue;
    const m = /^(\S+)\s+slots\s*=\s*(\S+)$/.exec(line);
    if (!m) {
      throw new LaunchError(`${where}: expected "host slots=N", got "${line}"`);
    }
    const host = m[1] as string;
    const slotsText = m[2] as string;
    const slots = Number(slotsText);
    if (!/^\d+$/.test(slotsText) || slots < 1) {
      throw new LaunchError(`${where}: slots must be a positive integer, got "${slotsText}" for host ${host}`);
    }
    if (hosts.some((h) => h.host === host)) {
      throw new LaunchError(`${where}: host ${host} is listed twice`);
    }
    hosts.push({ host, slots });
  }
  if (hosts.length === 0) throw new LaunchError(`${file}: the hostfile lists no hosts`);
  return hosts;
}

/** Reads and parses a hostfile from disk. */
export function readHostfile(path: string): HostSlots[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new LaunchError(`cannot read hostfile ${path}: ${code}`);
  }
  return parseHostfile(text, path);
}
