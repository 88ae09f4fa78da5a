import type { z } from 'zod';

/** The keys a zod object schema accepts at `path` (through optional/default wrappers). */
export function keysAt(schema: z.ZodType, path: readonly string[]): string[] {
  let s = unwrap(schema);
  for (const p of path) {
    const shape = objectShape(s);
    if (!shape || !(p in shape)) return [];
    s = unwrap(shape[p]!);
  }
  return Object.keys(objectShape(s) ?? {});
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s as unknown as { _zod: { def: { innerType?: z.ZodType; out?: z.ZodType; type: string } } };
  for (let i = 0; i < 10; i++) {
    const def = cur._zod.def;
    const inner = def.innerType ?? (def.type === 'pipe' ? def.out : undefined);
    if (!inner) break;
    cur = inner as unknown as typeof cur;
  }
  return cur as unknown as z.ZodType;
}

function objectShape(s: z.ZodType): Record<string, z.ZodType> | null {
  const def = (s as unknown as { _zod: { def: { type: string; shape?: Record<string, z.ZodType> } } })._zod.def;
  return def.type === 'object' && def.shape ? def.shape : null;
}

/** The candidate closest to `key` by edit distance, if close enough to be a typo. */
export function nearest(key: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  if (best && (bestD <= limit || best.includes(key) || key.includes(best))) return best;
  return null;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
