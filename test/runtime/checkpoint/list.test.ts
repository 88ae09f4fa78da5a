/** listCheckpoints orders tags by save time; keepLast prunes all but the newest n and never `latest`. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { keepLast, listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../../src/runtime/checkpoint/index.ts';
import { seeded, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

async function saveSteps(dir: string, tags: string[]): Promise<void> {
  for (const [i, tag] of tags.entries()) {
    await saveCheckpoint({ dir, tag, rank: 0, worldSize: 1, files: { params: seeded(4, i) }, meta: { step: (i + 1) * 10 } });
    await new Promise((r) => setTimeout(r, 5)); // distinct manifest times
  }
}

it('lists complete tags in save order with step and latest, then unfinished ones', async () => {
  const dir = tempDir();
  // Saved in an order that differs from the names' sort order.
  await saveSteps(dir, ['zeta', 'alpha', 'mid']);
  mkdirSync(join(dir, 'crashed'));
  const list = await listCheckpoints(dir);
  expect(list.map((c) => [c.tag, c.complete, c.latest, c.step])).toEqual([
    ['zeta', true, false, 10], ['alpha', true, false, 20], ['mid', true, true, 30], ['crashed', false, false, null],
  ]);
  expect(await listCheckpoints(join(dir, 'none'))).toEqual([]);
});

it('keepLast keeps the newest n and the latest tag, removes unfinished leftovers', async () => {
  const dir = tempDir();
  await saveSteps(dir, ['s1', 's2', 's3', 's4']);
  mkdirSync(join(dir, 'crashed'));
  // Temp files a killed save left behind.
  writeFileSync(join(dir, '.latest.tmp-99-ab12cd34'), 's');
  writeFileSync(join(dir, 's4', '.rank_0.params.bin.tmp-99-ab12cd34'), 'partial');
  // Point latest back at s1 (a user resumed from it): it must survive pruning.
  writeFileSync(join(dir, 'latest'), 's1\n');
  const removed = await keepLast(dir, 2);
  expect(removed.sort()).toEqual(['crashed', 's2']);
  expect((await listCheckpoints(dir)).map((c) => c.tag)).toEqual(['s1', 's3', 's4']);
  expect(existsSync(join(dir, 's2'))).toBe(false);
  expect(readdirSync(dir).sort()).toEqual(['latest', 's1', 's3', 's4']);
  expect(readdirSync(join(dir, 's4')).filter((n) => n.startsWith('.'))).toEqual([]);
  expect((await loadCheckpoint({ dir, rank: 0, worldSize: 1 })).tag).toBe('s1');
  await expect(keepLast(dir, 0)).rejects.toThrow(/n must be a positive integer, got 0/);
});
