/**
 * Save → disk → load: the bytes on disk are the buffers (raw little-endian), the manifest's
 * sizes and sha256 are those of the files (hashed here independently), and every rank gets
 * back exactly what it saved. fp16/bf16 storage halves the file and stays within half an ulp.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint, weightDtypeFromConfig } from '../../../src/runtime/checkpoint/index.ts';
import { bytesOf, memoryBarrier, seeded, removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const segments = [{ name: 'embed', shape: [10, 4], offset: 0, numel: 40 }, { name: 'norm', shape: [4], offset: 40, numel: 4 }];

describe('saveCheckpoint / loadCheckpoint', () => {
  it('two ranks with a barrier: raw files, manifest sizes and sha256, latest, exact round trip', async () => {
    const dir = tempDir();
    const W = 2;
    const barrier = memoryBarrier(W);
    const filesOf = (r: number): Record<string, Float32Array | Uint8Array> => ({
      params: seeded(44, 1 + r),
      'optim.exp_avg': seeded(22, 10 + r),
      rng: new Uint8Array([r, 1, 2, 3, 250]),
    });
    const meta = { step: 7, lr: 1e-3, seed: 1234, loader: { epoch: 0, index: 56 }, layout: { segments, zeroStage: 1 } };
    const results = await Promise.all(
      Array.from({ length: W }, (_, rank) => saveCheckpoint({ dir, tag: 'global_step7', rank, worldSize: W, files: filesOf(rank), meta, barrier })),
    );
    expect(results[1]!.manifest).toBeNull();
    expect(readFileSync(join(dir, 'latest'), 'utf8').trim()).toBe('global_step7');

    const manifest = JSON.parse(readFileSync(join(dir, 'global_step7', 'manifest.json'), 'utf8'));
    expect(manifest.worldSize).toBe(W);
    expect(manifest.layout).toEqual(meta.layout);
    for (let r = 0; r < W; r++) {
      for (const [name, buf] of Object.entries(filesOf(r))) {
        const file = join(dir, 'global_step7', `rank_${r}.${name}.bin`);
        const onDisk = readFileSync(file);
        expect(onDisk.equals(bytesOf(buf))).toBe(true);
        const entry = manifest.ranks[r][name];
        expect(entry).toMatchObject({ file: `rank_${r}.${name}.bin`, numel: buf.length, bytes: statSync(file).size, sha256: sha(onDisk) });
        expect(entry.dtype).toBe(buf instanceof Float32Array ? 'float32' : 'uint8');
      }
    }
    expect(manifest.meta.sha256).toBe(sha(readFileSync(join(dir, 'global_step7', 'meta.json'))));

    for (let r = 0; r < W; r++) {
      const got = await loadCheckpoint({ dir, rank: r, worldSize: W });
      expect(got.tag).toBe('global_step7');
      expect(got.meta).toEqual(meta);
      const want = filesOf(r);
      expect(Object.keys(got.files).sort()).toEqual(Object.keys(want).sort());
      for (const [name, buf] of Object.entries(want)) {
        expect(got.files[name]!.constructor).toBe(buf.constructor);
        expect(bytesOf(got.files[name]!).equals(bytesOf(buf))).toBe(true);
      }
    }
  });

  it('without a barrier rank 0 waits for the other ranks\' files before the manifest', async () => {
    const dir = tempDir();
    const slow = new Promise<void>((r) => setTimeout(r, 150)).then(() =>
      saveCheckpoint({ dir, tag: 't', rank: 1, worldSize: 2, files: { params: seeded(8, 2) }, meta: { step: 1 } }),
    );
    const [r0] = await Promise.all([saveCheckpoint({ dir, tag: 't', rank: 0, worldSize: 2, files: { params: seeded(8, 1) }, meta: { step: 1 } }), slow]);
    expect(r0.manifest!.ranks[1]!.params!.sha256).toBe(sha(bytesOf(seeded(8, 2))));
    const got = await loadCheckpoint({ dir, rank: 1, worldSize: 2 });
    expect(Array.from(got.files.params!)).toEqual(Array.from(seeded(8, 2)));
  });

  it('a later save moves latest; an explicit tag still loads the earlier one', async () => {
    const dir = tempDir();
    await saveCheckpoint({ dir, tag: 'a', rank: 0, worldSize: 1, files: { params: seeded(5, 1) }, meta: { step: 1 } });
    await saveCheckpoint({ dir, tag: 'b', rank: 0, worldSize: 1, files: { params: seeded(5, 2) }, meta: { step: 2 } });
    expect((await loadCheckpoint({ dir, rank: 0, worldSize: 1 })).meta.step).toBe(2);
    const a = await loadCheckpoint({ dir, tag: 'a', rank: 0, worldSize: 1 });
    expect(Array.from(a.files.params!)).toEqual(Array.from(seeded(5, 1)));
  });

  for (const [dtype, storage, eps] of [['fp16', 'float16', 2 ** -11], ['bf16', 'bfloat16', 2 ** -8]] as const) {
    it(`${dtype} storage: half the bytes, within half an ulp (relative ${eps}), exact for representable values`, async () => {
      const dir = tempDir();
      // Magnitudes in fp16's normal range (≥ 2^-14), so the relative bound holds for both formats.
      const params = seeded(1000, 3, 8).map((x) => (Math.abs(x) < 1e-3 ? 0.5 : x));
      const exact = new Float32Array([0, -0, 1, -2.5, 0.099609375, 65504, -1000.5]);
      // Midpoints between neighbours go to the even one (round to nearest even).
      const ties = dtype === 'fp16' ? new Float32Array([1024.5, 1025.5]) : new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8]);
      const tiesWant = dtype === 'fp16' ? [1024, 1026] : [1, 1 + 2 ** -6];
      const cfg = dtype === 'fp16' ? { fp16: { enabled: true } } : { bf16: { enabled: true } };
      const as = weightDtypeFromConfig(cfg);
      expect(as).toBe(dtype);
      await saveCheckpoint({ dir, tag: 'h', rank: 0, worldSize: 1, files: { params, exact, ties, master: params }, dtypes: { params: as, exact: as, ties: as }, meta: {} });
      expect(statSync(join(dir, 'h', 'rank_0.params.bin')).size).toBe(2000);
      expect(statSync(join(dir, 'h', 'rank_0.master.bin')).size).toBe(4000);
      const got = await loadCheckpoint({ dir, rank: 0, worldSize: 1 });
      expect(got.manifest.ranks[0]!.params!.dtype).toBe(storage);
      const p = got.files.params as Float32Array;
      let worst = 0;
      for (let i = 0; i < params.length; i++) worst = Math.max(worst, Math.abs(p[i]! - params[i]!) / Math.abs(params[i]!));
      expect(worst).toBeLessThanOrEqual(eps);
      expect(worst).toBeGreaterThan(0);
      const e = got.files.exact as Float32Array;
      expect(Array.from(got.files.ties!)).toEqual(tiesWant);
      // 65504 and -1000.5 are representable in fp16 but not bf16 (8-bit mantissa).
      const n = dtype === 'fp16' ? exact.length : 5;
      expect(Array.from(e.subarray(0, n)).map((x) => Object.is(x, -0) ? '-0' : x)).toEqual(Array.from(exact.subarray(0, n)).map((x) => Object.is(x, -0) ? '-0' : x));
      expect(bytesOf(got.files.master!).equals(bytesOf(params))).toBe(true);
    });
  }
});
