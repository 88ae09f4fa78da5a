/**
 * The receive path without sockets: a stream of frames cut into reads at every awkward place
 * (inside a header, inside an element, one byte at a time) parses to the same frames, whether
 * payloads land in pooled buffers or in posted destinations; and payloads split into misaligned
 * pieces decode and reduce exactly like one contiguous buffer.
 */
import { describe, expect, it } from 'vitest';
import { FrameType, encodeHeader, type Frame, type Header } from '../../../src/runtime/comm/frame.ts';
import { FrameReader } from '../../../src/runtime/comm/frame_reader.ts';
import { concatPayload } from '../../../src/runtime/comm/payload.ts';
import { decodeInto, encode, reduceInto } from '../../../src/runtime/comm/wire.ts';
import { randomArray } from './helpers.ts';

function header(offset: number, bytes: number): Header {
  return { type: FrameType.DATA, kind: 1, groupId: 7, seq: 3, count: 1000, offset, arg: 0, dtype: 0, channel: 0, bytes };
}

/** Frames with payloads of these sizes, as one byte stream. */
function stream(sizes: number[]): { bytes: Buffer; payloads: Buffer[] } {
  const payloads = sizes.map((n, i) => Buffer.from(randomArray(Math.ceil(n / 4), i + 1).buffer).subarray(0, n));
  const parts: Buffer[] = [];
  let offset = 0;
  for (const p of payloads) {
    parts.push(encodeHeader(header(offset, p.length)), p);
    offset += p.length;
  }
  return { bytes: Buffer.concat(parts), payloads };
}

/** Feeds `bytes` through the reader's onread hooks, at most `cut(i)` bytes per read. */
function feed(reader: FrameReader, bytes: Buffer, cut: (i: number) => number): void {
  let pos = 0;
  for (let i = 0; pos < bytes.length; i++) {
    const into = reader.onread.buffer();
    const n = Math.min(into.length, cut(i), bytes.length - pos);
    bytes.copy(into, 0, pos, pos + n);
    pos += n;
    reader.onread.callback(n);
  }
}

describe('FrameReader', () => {
  const sizes = [0, 4, 30, 32, 1000, 8192, 40_000, 70_000, 3];
  const cuts: [string, (i: number) => number][] = [
    ['one byte per read', () => 1],
    ['odd-sized reads', (i) => 7 + ((i * 9973) % 5003)],
    ['large reads', () => 1 << 20],
  ];

  it.each(cuts)('parses the same frames with %s', (_, cut) => {
    const { bytes, payloads } = stream(sizes);
    const got: Frame[] = [];
    const reader = new FrameReader((f) => got.push(f), () => null, (e) => { throw e; });
    feed(reader, bytes, cut);
    expect(got.map((f) => f.h.bytes)).toEqual(sizes);
    got.forEach((f, i) => expect(concatPayload(f.payload).equals(payloads[i]!)).toBe(true));
  });

  it('reads a frame into the destination posted for it, and only that frame', () => {
    const { bytes, payloads } = stream(sizes);
    const dest = Buffer.alloc(70_000);
    const want = sizes.indexOf(70_000);
    const got: Frame[] = [];
    const place = (h: Header): Buffer | null => (h.bytes === 70_000 ? dest : null);
    const reader = new FrameReader((f) => got.push(f), place, (e) => { throw e; });
    feed(reader, bytes, (i) => 5 + ((i * 7919) % 9000));
    expect(got[want]!.placed).toBe(true);
    expect(got[want]!.payload[0]).toBe(dest);
    expect(dest.equals(payloads[want]!)).toBe(true);
    expect(got.filter((f) => f.placed)).toHaveLength(1);
  });

  it('hands recycled payload buffers out again', () => {
    const { bytes } = stream([4096, 4096]);
    const got: Frame[] = [];
    const reader = new FrameReader((f) => { got.push(f); f.recycle?.(); }, () => null, (e) => { throw e; });
    feed(reader, bytes, () => 1 << 20);
    expect(got[1]!.payload[0]).toBe(got[0]!.payload[0]);
  });

  it('reports a bad magic instead of throwing out of the socket callback', () => {
    const errors: Error[] = [];
    const reader = new FrameReader(() => {}, () => null, (e) => errors.push(e));
    feed(reader, Buffer.alloc(64, 0xab), () => 64);
    expect(errors[0]?.message).toMatch(/bad frame magic 0xabab/);
  });
});

describe('split payloads', () => {
  /** The bytes of `whole` cut at these byte positions, each piece copied to an odd offset. */
  function split(whole: Buffer, at: number[]): Buffer[] {
    const edges = [0, ...at, whole.length];
    return edges.slice(1).map((hi, i) => {
      const lo = edges[i]!;
      const home = Buffer.alloc(hi - lo + 1);
      whole.copy(home, 1, lo, hi);
      return home.subarray(1); // misaligned for any element size
    });
  }

  it.each(['float32', 'fp16', 'bf16'] as const)('decode and reduce a %s payload cut inside elements', (dtype) => {
    const x = randomArray(1001, 5);
    const whole = Buffer.from(encode(x, dtype));
    const pieces = split(whole, [1, 2, 7, 8, 9, 1000, 1001, 1003, whole.length - 1]);

    const fromWhole = new Float32Array(x.length);
    const fromPieces = new Float32Array(x.length);
    decodeInto([whole], dtype, fromWhole);
    decodeInto(pieces, dtype, fromPieces);
    expect(fromPieces).toEqual(fromWhole);

    for (const op of ['sum', 'max', 'min'] as const) {
      const a = randomArray(x.length, 9);
      const b = a.slice();
      reduceInto([whole], dtype, a, op);
      reduceInto(pieces, dtype, b, op);
      expect(b).toEqual(a);
    }
  });
});
