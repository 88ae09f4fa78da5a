import { InputError } from '../../../errors.ts';
import { writeFileAtomic } from '../atomic_write.ts';
import { encodeBf16, encodeF16, encodeF32 } from '../dtype.ts';
import type { HostTensor } from '../types.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** Serializes tensors (in the order given) to safetensors bytes: header padded with spaces to 8 bytes. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, HostTensor>,
  metadata: Readonly<Record<string, string>> = {},
  dtype: SafetensorsDtype = 'F32',
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  const blobs: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new InputError(`writeSafetensors: tensor "${name}" has shape [${t.shape.join(', ')}] (${numel} elements) but ${t.data.length} values`);
    }
    const blob = dtype === 'F32' ? encodeF32(t.data) : dtype === 'F16' ? encodeF16(t.data) : encodeBf16(t.data);
    header[name] = { dtype, shape: t.shape, data_offsets: [at, at + blob.length] };
    blobs.push(blob);
    at += blob.length;
  }
  // Data must start 8-byte aligned: pad the header with spaces (valid JSON whitespace).
  const jsonBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(jsonBytes.length / 8) * 8).fill(0x20);
  padded.set(jsonBytes);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(padded.length), true);
  return [len, padded, ...blobs];
}

/** Writes a safetensors file atomically (temp file, then rename). */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, HostTensor>,
  metadata: Readonly<Record<string, string>> = {},
  dtype: SafetensorsDtype = 'F32',
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, dtype));
}
