/**
 * kill -9 in the middle of a save leaves the previous checkpoint loadable, for real: a child
 * process saves "a", starts "b" and is SIGKILLed at several points of b's save.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { listCheckpoints, loadCheckpoint } from '../../../src/runtime/checkpoint/index.ts';
import { seeded, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/save_then_die.ts', import.meta.url));

/** Runs the child; with `killOnTemp` the parent SIGKILLs it once a temp file of tag b exists. */
function runChild(dir: string, mode: string, killOnTemp: boolean): Promise<{ signal: NodeJS.Signals | null; sawTemp: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', './bin/register.js', CHILD, dir, mode], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sawTemp: string | null = null;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const poll = killOnTemp
      ? setInterval(() => {
          let names: string[] = [];
          try {
            names = readdirSync(join(dir, 'b'));
          } catch {
            return;
          }
          const tmp = names.find((n) => n.includes('.tmp-'));
          if (tmp && !sawTemp) {
            sawTemp = tmp;
            child.kill('SIGKILL');
          }
        }, 5)
      : null;
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (poll) clearInterval(poll);
      resolve({ signal, sawTemp, out });
    });
  });
}

async function expectA(dir: string): Promise<void> {
  const got = await loadCheckpoint({ dir, rank: 0, worldSize: 1 });
  expect(got.tag).toBe('a');
  expect(got.meta).toEqual({ step: 1 });
  expect(Array.from(got.files.params!)).toEqual(Array.from(seeded(1000, 1)));
  expect(Array.from(got.files['optim.exp_avg']!)).toEqual(Array.from(seeded(1000, 2)));
  const b = (await listCheckpoints(dir)).find((c) => c.tag === 'b');
  expect(b?.complete).toBe(false);
}

describe('kill -9 during a save', () => {
  it('killed by the parent while a temp file of b is half written: latest is a, a loads exactly', async () => {
    const dir = tempDir();
    const r = await runChild(dir, 'slow', true);
    expect(r.signal, r.out).toBe('SIGKILL');
    expect(r.out).toContain('saved a');
    expect(r.sawTemp).toMatch(/^\.rank_0\.params\.bin\.tmp-/);
    // The temp file is still there, partly written (24 MiB when whole).
    expect(statSync(join(dir, 'b', r.sawTemp!)).size).toBeLessThan(24 << 20);
    await expectA(dir);
  });

  it('self-killed after b\'s first rank file was renamed into place: a still loads', async () => {
    const dir = tempDir();
    const r = await runChild(dir, 'after:rank_0.params.bin', false);
    expect(r.signal, r.out).toBe('SIGKILL');
    expect(readdirSync(join(dir, 'b'))).toContain('rank_0.params.bin');
    await expectA(dir);
  });

  it('self-killed after b\'s manifest but before latest: latest still names a; b is complete and loads by tag', async () => {
    const dir = tempDir();
    const r = await runChild(dir, 'after:manifest.json', false);
    expect(r.signal, r.out).toBe('SIGKILL');
    const got = await loadCheckpoint({ dir, rank: 0, worldSize: 1 });
    expect(got.tag).toBe('a');
    const b = await loadCheckpoint({ dir, tag: 'b', rank: 0, worldSize: 1 });
    expect(b.files.params!.length).toBe(6 << 20);
    expect(b.files.params![12345]).toBe(seeded(12346, 3)[12345]);
  });
});
