/**
 * Which slots of the pool run ranks: DeepSpeed's --include/--exclude syntax, then
 * --num_nodes (first N nodes) and --num_procs (first N slots of each node).
 *
 *   worker-0@worker-1:0,2   → all of worker-0, slots 0 and 2 of worker-1
 */
import { LaunchError } from '../../errors.ts';
import type { HostSlots } from './hostfile.ts';

/** One node and the slot ids chosen on it, in order; ranks are numbered node by node. */
export interface NodeSlots {
  readonly host: string;
  readonly slots: readonly number[];
}

export interface SelectionOptions {
  include?: string | undefined;
  exclude?: string | undefined;
  numNodes?: number | undefined;
  numProcs?: number | undefined;
}

/** Parses `h1@h2:0,2` into host → slot ids (null: the whole host). `flag` names the source in errors. */
export function parseHostSpec(spec: string, flag: string): Map<string, number[] | null> {
  const out = new Map<string, number[] | null>();
  for (const part of spec.split('@')) {
    const item = part.trim();
    if (item === '') throw new LaunchError(`${flag} "${spec}": empty host entry`);
    const colon = item.indexOf(':');
    const host = colon < 0 ? item : item.slice(0, colon);
    if (host === '') throw new LaunchError(`${flag} "${spec}": missing host name before ":" in "${item}"`);
    if (out.has(host)) throw new LaunchError(`${flag} "${spec}": host ${host} is named twice`);
    if (colon < 0) {
      out.set(host, null);
      continue;
    }
    const slots: number[] = [];
    for (const s of item.slice(colon + 1).split(',')) {
      if (!/^\d+$/.test(s.trim())) throw new LaunchError(`${flag} "${spec}": slot "${s}" of ${host} is not a non-negative integer`);
      const n = Number(s.trim());
      if (!slots.includes(n)) slots.push(n);
    }
    out.set(host, slots.sort((a, b) => a - b));
  }
  return out;
}

function checkKnown(pool: readonly HostSlots[], spec: Map<string, number[] | null>, flag: string): void {
  for (const [host, slots] of spec) {
    const entry = pool.find((h) => h.host === host);
    if (!entry) {
      throw new LaunchError(`${flag}: unknown host ${host}; known hosts: ${pool.map((h) => h.host).join(', ')}`);
    }
    const bad = (slots ?? []).find((s) => s >= entry.slots);
    if (bad !== undefined) {
      throw new LaunchError(`${flag}: host ${host} has slots 0..${entry.slots - 1}, asked for slot ${bad}`);
    }
  }
}

const allSlots = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Applies include/exclude, then the node and per-node counts; never returns an empty list. */
export function selectSlots(pool: readonly HostSlots[], opts: SelectionOptions): NodeSlots[] {
  if (opts.include && opts.exclude) {
    throw new LaunchError('--include and --exclude cannot be used together');
  }
  let nodes: NodeSlots[] = pool.map((h) => ({ host: h.host, slots: allSlots(h.slots) }));
  if (opts.include) {
    const spec = parseHostSpec(opts.include, '--include');
    checkKnown(pool, spec, '--include');
    nodes = nodes
      .filter((n) => spec.has(n.host))
      .map((n) => ({ host: n.host, slots: spec.get(n.host) ?? n.slots }));
  }
  if (opts.exclude) {
    const spec = parseHostSpec(opts.exclude, '--exclude');
    checkKnown(pool, spec, '--exclude');
    nodes = nodes.map((n) => {
      if (!spec.has(n.host)) return n;
      const drop = spec.get(n.host);
      return { host: n.host, slots: drop === null ? [] : n.slots.filter((s) => !drop?.includes(s)) };
    });
  }
  nodes = nodes.filter((n) => n.slots.length > 0);
  if (nodes.length === 0) {
    const why = opts.include ? `--include ${opts.include}` : opts.exclude ? `--exclude ${opts.exclude}` : 'the host pool';
    throw new LaunchError(`no slots left to run on after ${why}`);
  }
  if (opts.numNodes !== undefined) {
    if (!Number.isInteger(opts.numNodes) || opts.numNodes < 1) throw new LaunchError(`--num_nodes must be a positive integer, got ${opts.numNodes}`);
    if (opts.numNodes > nodes.length) {
      throw new LaunchError(`--num_nodes ${opts.numNodes} asks for more nodes than the ${nodes.length} selected (${nodes.map((n) => n.host).join(', ')})`);
    }
    nodes = nodes.slice(0, opts.numNodes);
  }
  if (opts.numProcs !== undefined) {
    const want = opts.numProcs;
    if (!Number.isInteger(want) || want < 1) throw new LaunchError(`--num_procs must be a positive integer, got ${want}`);
    nodes = nodes.map((n) => {
      if (n.slots.length < want) {
        throw new LaunchError(`--num_procs ${want} asks for more ranks per node than host ${n.host} has selected (${n.slots.length})`);
      }
      return { host: n.host, slots: n.slots.slice(0, want) };
    });
  }
  return nodes;
}

/** Total ranks in a selection. */
export function worldSizeOf(nodes: readonly NodeSlots[]): number {
  return nodes.reduce((s, n) => s + n.slots.length, 0);
}
