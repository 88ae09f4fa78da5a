import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c } from '../../../src/runtime/monitor/tensorboard/crc32c.ts';
import { TensorBoardWriter } from '../../../src/runtime/monitor/tensorboard/writer.ts';

// tensorflow/core/util/event.proto and framework/summary.proto, the fields a scalar event uses:
// an independent decoder for what the writer encodes by hand.
const root = protobuf.parse(`
syntax = "proto3";
message Value { string tag = 1; float simple_value = 2; }
message Summary { repeated Value value = 1; }
message Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
`, { keepCase: true }).root;
const Event = root.lookupType('Event');

/** TFRecord frames, each checked the way TensorFlow's reader checks them. */
function readRecords(bytes: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    const len = Number(bytes.readBigUInt64LE(off));
    expect(bytes.readUInt32LE(off + 8)).toBe(maskedCrc32c(bytes.subarray(off, off + 8)));
    const data = bytes.subarray(off + 12, off + 12 + len);
    expect(bytes.readUInt32LE(off + 12 + len)).toBe(maskedCrc32c(data));
    out.push(data);
    off += 16 + len;
  }
  expect(off).toBe(bytes.length);
  return out;
}

describe('tensorboard event files', () => {
  it('crc32c matches the published check value and RFC 3720 vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // 32 zero bytes (RFC 3720 B.4)
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });

  it('writes TFRecord-framed Events that a protobuf decoder reads back: version first, then scalars per step', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-tb-'));
    const w = new TensorBoardWriter({ outputPath: dir, jobName: 'job' });
    w.addScalars(1, { 'Train/Samples/train_loss': 2.5, 'Train/Samples/lr': 1e-3 }, 1000.5);
    w.addScalars(2, { 'Train/Samples/train_loss': 2.25 }, 1001.25);
    w.close();
    const files = readdirSync(join(dir, 'job'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\./);
    const events = readRecords(readFileSync(join(dir, 'job', files[0]!))).map((r) => Event.toObject(Event.decode(r), { longs: Number }));
    expect(events).toHaveLength(3);
    expect(events[0]!.file_version).toBe('brain.Event:2');
    expect(events[1]).toMatchObject({ wall_time: 1000.5, step: 1 });
    const v1 = events[1]!.summary.value as { tag: string; simple_value: number }[];
    expect(v1.map((v) => v.tag)).toEqual(['Train/Samples/train_loss', 'Train/Samples/lr']);
    expect(v1[0]!.simple_value).toBe(2.5);
    expect(v1[1]!.simple_value).toBeCloseTo(1e-3, 9);
    expect(events[2]).toMatchObject({ wall_time: 1001.25, step: 2 });
    expect(events[2]!.summary.value[0].simple_value).toBe(2.25);
  });
});
