/**
 * DeepSpeed's tensorboard monitor: scalar event files under output_path/job_name/ that
 * TensorBoard (and tf.data.TFRecordDataset) read. Each record is TFRecord-framed:
 *
 *   uint64 length | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
 *
 * (little-endian). The file is appended and flushed per step, so a killed run keeps every
 * finished step and TensorBoard shows the run while it trains.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { maskedCrc32c } from './crc32c.ts';
import { fileVersionEvent, scalarEvent } from './event.ts';

export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

export class TensorBoardWriter {
  readonly path: string;
  private fd: number | null;

  constructor(opts: { outputPath: string; jobName: string; now?: () => number }) {
    const dir = join(opts.outputPath, opts.jobName);
    mkdirSync(dir, { recursive: true });
    const seconds = (opts.now ?? Date.now)() / 1000;
    // TensorBoard finds files by this name pattern.
    this.path = join(dir, `events.out.tfevents.${Math.floor(seconds)}.${hostname()}.${process.pid}`);
    this.fd = openSync(this.path, 'a');
    this.append(fileVersionEvent(seconds));
  }

  /** Scalars for one step, e.g. { 'Train/Samples/train_loss': 2.1 }. */
  addScalars(step: number, scalars: Readonly<Record<string, number>>, wallTimeS = Date.now() / 1000): void {
    this.append(scalarEvent(wallTimeS, step, scalars));
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }

  private append(event: Uint8Array): void {
    if (this.fd === null) throw new Error('TensorBoardWriter: write after close');
    writeSync(this.fd, tfRecord(event));
  }
}
