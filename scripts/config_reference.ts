/**
 * Prints the config reference as a markdown table, from the schema itself: every key, its
 * default, whether it is DeepSpeed's or deepscale's own, and what loadConfig does when the key is
 * moved off its default (a boolean flipped, a number raised): it loads, or it is refused with the reason.
 *
 *   node --import ./bin/register.js scripts/config_reference.ts > /tmp/ref.md
 */
import type { z } from 'zod';
import { configSchema } from '../src/runtime/config/schema.ts';
import { loadConfig } from '../src/runtime/config/index.ts';
import { ConfigError } from '../src/errors.ts';

const OURS = new Set(['backend', 'comm_timeout_s', 'model', 'data', 'train', 'pipeline', 'distillation']);
type Def = { type: string; innerType?: z.ZodType; out?: z.ZodType; shape?: Record<string, z.ZodType> };
const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function unwrap(s: z.ZodType): z.ZodType {
  for (let i = 0; i < 10; i++) {
    const d = def(s);
    const inner = d.innerType ?? (d.type === 'pipe' ? d.out : undefined);
    if (!inner) break;
    s = inner;
  }
  return s;
}

function leaves(s: z.ZodType, path: string[], out: string[][]): void {
  const u = unwrap(s);
  const d = def(u);
  if (d.type === 'object' && d.shape) for (const [k, v] of Object.entries(d.shape)) leaves(v, [...path, k], out);
  else out.push(path);
}

const base = { train_batch_size: 1, optimizer: { type: 'Adam' }, model: { hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4 } };
const defaults = loadConfig(base, { dpWorldSize: 1 }) as unknown as Record<string, unknown>;
const at = (o: unknown, p: readonly string[]): unknown => p.reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);
/** `base` with the value at path `p` replaced (a deep copy along the path). */
const withValue = (o: Record<string, unknown>, p: readonly string[], v: unknown): Record<string, unknown> => {
  const inner = o[p[0]!];
  return { ...o, [p[0]!]: p.length === 1 ? v : withValue(inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : {}, p.slice(1), v) };
};

function behaviour(path: string[], dflt: unknown): string {
  let probe: unknown;
  if (typeof dflt === 'boolean') probe = !dflt;
  else if (typeof dflt === 'number') probe = dflt === 0 ? 1 : dflt * 2;
  else return '';
  try {
    loadConfig(withValue(base, path, probe), { dpWorldSize: 1 });
    return `${JSON.stringify(probe)} loads`;
  } catch (e) {
    if (e instanceof ConfigError) {
      const why = e.message.replace(/ \(<object>\)$/, '').replace(/ in <object>.*$/, '');
      return e.path === path.join('.') ? `refused at ${JSON.stringify(probe)}: ${why.slice(e.path.length + 2, e.path.length + 2 + 140)}` : `${JSON.stringify(probe)} needs other keys (${e.path})`;
    }
    return `${JSON.stringify(probe)}: ${(e as Error).message.slice(0, 100)}`;
  }
}

const rows: string[][] = [];
leaves(configSchema, [], rows);
process.stdout.write('| key | default | from | set off its default (a boolean flipped, a number raised) |\n| --- | --- | --- | --- |\n');
for (const p of rows) {
  const dflt = at(defaults, p);
  const shown = dflt === undefined ? '(optional)' : JSON.stringify(dflt);
  const from = OURS.has(p[0]!) ? 'deepscale' : 'DeepSpeed';
  process.stdout.write(`| \`${p.join('.')}\` | ${shown.replace(/\|/g, '\\|')} | ${from} | ${behaviour(p, dflt).replace(/\|/g, '\\|')} |\n`);
}
