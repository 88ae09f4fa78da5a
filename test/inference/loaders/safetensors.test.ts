import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.ts';
import { f16ToF32, f32ToF16 } from '../../../src/inference/loaders/dtype.ts';
import { parseSafetensors, readSafetensors } from '../../../src/inference/loaders/safetensors/reader.ts';
import { readSafetensorsDir } from '../../../src/inference/loaders/safetensors/sharded.ts';
import { encodeSafetensors, writeSafetensors } from '../../../src/inference/loaders/safetensors/writer.ts';
import type { HostTensor } from '../../../src/inference/loaders/types.ts';
import { rng } from '../../helpers/random_llama.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tensors(): Map<string, HostTensor> {
  const r = rng(3);
  const t = (shape: number[]): HostTensor => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()) });
  return new Map([['a.weight', t([3, 5])], ['b', t([7])], ['scalar', t([])], ['empty', t([0, 4])]]);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

/** A file with a hand-written header, to test what the writer never produces. */
function handmade(header: object, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 exactly, with metadata, and pads the header to 8 bytes with spaces', () => {
    const path = join(dir, 'a.safetensors');
    writeSafetensors(path, tensors(), { format: 'pt' });
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    expect(bytes.subarray(8, 8 + n).toString('latin1')).toMatch(/} *$/);
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ format: 'pt' });
    for (const [name, t] of tensors()) {
      expect(back.tensors.get(name)?.shape).toEqual(t.shape);
      expect(back.tensors.get(name)?.data).toEqual(t.data);
    }
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('F16 and BF16 round-trip to the nearest representable value', () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const back = parseSafetensors(concat(encodeSafetensors(tensors(), {}, dtype)), 'mem');
      for (const [name, t] of tensors()) {
        const got = back.tensors.get(name)!.data;
        t.data.forEach((v, i) => {
          const rel = dtype === 'F16' ? 2 ** -11 : 2 ** -8;
          expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * rel + 1e-7);
        });
      }
    }
  });

  it('f16 conversion is exact on representable values and rounds to nearest even', () => {
    for (const h of [0, 1, 0x3ff, 0x400, 0x3c00, 0x7bff, 0xc000, 0x8001]) expect(f32ToF16(f16ToF32(h))).toBe(h);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // halfway: ties to even (down)
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway: ties to even (up)
    expect(f32ToF16(1e6)).toBe(0x7c00);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', () => {
    const sd = join(dir, 'sharded');
    rmSync(sd, { recursive: true, force: true });
    const all = tensors();
    const names = [...all.keys()];
    const shards = [names.slice(0, 2), names.slice(2)];
    const weightMap: Record<string, string> = {};
    shards.forEach((group, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(group.map((n) => [n, all.get(n)!])));
      for (const n of group) weightMap[n] = file;
    });
    // Written beside, then moved into the model dir.
    mkdirSync(sd);
    for (const f of new Set(Object.values(weightMap))) renameSync(join(dir, f), join(sd, f));
    writeFileSync(join(sd, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const back = readSafetensorsDir(sd);
    expect([...back.keys()].sort()).toEqual(names.sort());
    expect(back.get('b')!.data).toEqual(all.get('b')!.data);
    writeFileSync(join(sd, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, ghost: 'model-00001-of-00002.safetensors' } }));
    expect(() => readSafetensorsDir(sd)).toThrow(/tensor "ghost" listed in model.safetensors.index.json/);
  });

  it.each([
    ['an overlap', { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12, /overlaps/],
    ['a gap', { x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8, /gap/],
    ['out of bounds offsets', { x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8, /out of bounds/],
    ['a shape that disagrees with the offsets', { x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8, /needs 12 bytes/],
    ['an unsupported dtype', { x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8, /dtype "I64"/],
    ['a huge shape', { x: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, 8, /needs/],
    ['trailing bytes', { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8, /cover 4 bytes of the 8/],
  ])('rejects %s with a FormatError naming the file', (_what, header, dataBytes, msg) => {
    const run = (): unknown => parseSafetensors(handmade(header, dataBytes), 'bad.safetensors');
    expect(run).toThrow(FormatError);
    expect(run).toThrow(/^bad\.safetensors: /);
    expect(run).toThrow(msg);
  });

  it('rejects a header length past the file', () => {
    const b = handmade({}, 0);
    new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => parseSafetensors(b, 'f')).toThrow(/header length 1099511627776/);
  });
});
