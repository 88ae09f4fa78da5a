import { readFileSync } from 'node:fs';
import { FormatError } from '../../errors.ts';
import { writeFileAtomic } from '../../inference/loaders/atomic_write.ts';
import { packCodes, packedBytes, unpackCodes } from './pack.ts';
import type { PtqWeight } from './ptq.ts';

/**
 * deepscale's packed PTQ file: safetensors (u64 header length, JSON header, data), with the
 * GPTQ-style tensor names a loader looks for:
 *
 *   NAME.qweight  U8  [packed bytes]    codes, 2 a byte for bits ≤ 4 (see pack.ts)
 *   NAME.scales   F32 [rows, groups]    one scale per group of a row
 *   NAME.qzeros   U8  [rows, groups]    asymmetric only: zero points
 *   NAME          F32 [shape]           weights left in float32 (norms)
 *
 * __metadata__.quantization holds, per quantized weight, {shape, bits, group_size, symmetric}.
 */
interface QuantMeta {
  readonly shape: number[];
  readonly bits: number;
  readonly group_size: number;
  readonly symmetric: boolean;
}

type Blob = { readonly dtype: 'U8' | 'F32'; readonly shape: number[]; readonly bytes: Uint8Array };

export function writePackedWeights(path: string, weights: ReadonlyMap<string, PtqWeight>): number {
  const blobs = new Map<string, Blob>();
  const meta: Record<string, QuantMeta> = {};
  for (const [name, w] of weights) {
    if (w.kind === 'float') {
      blobs.set(name, { dtype: 'F32', shape: [...w.t.shape], bytes: f32Bytes(w.t.data) });
      continue;
    }
    const { spec, shape, codes, scales, zeros } = w.q;
    const groups = [scales.length / shape[0]!];
    meta[name] = { shape: [...shape], bits: spec.bits, group_size: spec.groupSize, symmetric: spec.symmetric };
    blobs.set(`${name}.qweight`, { dtype: 'U8', shape: [packedBytes(codes.length, spec.bits)], bytes: packCodes(codes, spec.bits) });
    blobs.set(`${name}.scales`, { dtype: 'F32', shape: [shape[0]!, ...groups], bytes: f32Bytes(scales) });
    if (zeros) blobs.set(`${name}.qzeros`, { dtype: 'U8', shape: [shape[0]!, ...groups], bytes: zeros.slice() });
  }
  const header: Record<string, unknown> = { __metadata__: { format: 'deepscale-ptq', quantization: JSON.stringify(meta) } };
  let at = 0;
  const parts: Uint8Array[] = [];
  for (const [name, b] of blobs) {
    header[name] = { dtype: b.dtype, shape: b.shape, data_offsets: [at, at + b.bytes.length] };
    parts.push(b.bytes);
    at += b.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(padded.length), true);
  const chunks = [len, padded, ...parts];
  writeFileAtomic(path, chunks);
  return chunks.reduce((a, c) => a + c.length, 0);
}

export function readPackedWeights(path: string): Map<string, PtqWeight> {
  const bytes = new Uint8Array(readFileSync(path)); // a copy: a Buffer's slice() is a view
  if (bytes.length < 8) throw new FormatError(path, `${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > bytes.length - 8) throw new FormatError(path, `header length ${n} exceeds the file (${bytes.length} bytes)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n))) as typeof header;
  } catch (e) {
    throw new FormatError(path, `header (bytes 8..${8 + n}) is not UTF-8 JSON: ${(e as Error).message}`);
  }
  const md = header.__metadata__ as unknown as Record<string, string> | undefined;
  if (md?.format !== 'deepscale-ptq') throw new FormatError(path, `__metadata__.format is ${JSON.stringify(md?.format)}, not "deepscale-ptq"`);
  const meta = JSON.parse(md.quantization ?? '{}') as Record<string, QuantMeta>;
  const data = 8 + n;
  const raw = (name: string): Uint8Array => {
    const e = header[name];
    if (!e) throw new FormatError(path, `tensor "${name}" is missing`);
    const [b, end] = e.data_offsets;
    if (!(b >= 0 && end >= b && data + end <= bytes.length)) throw new FormatError(path, `tensor "${name}": data_offsets [${b}, ${end}] lie outside the file`);
    return bytes.subarray(data + b, data + end);
  };
  const out = new Map<string, PtqWeight>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__' || /\.(qweight|scales|qzeros)$/.test(name)) continue;
    if (e.dtype !== 'F32') throw new FormatError(path, `tensor "${name}": dtype ${e.dtype}, expected F32`);
    out.set(name, { kind: 'float', t: { shape: e.shape, data: f32From(raw(name)) } });
  }
  for (const [name, m] of Object.entries(meta)) {
    const count = m.shape.reduce((a, b) => a * b, 1);
    const where = `${path}: "${name}"`;
    const codes = unpackCodes(raw(`${name}.qweight`), count, m.bits, where);
    const scales = f32From(raw(`${name}.scales`));
    if (scales.length * m.group_size !== count) throw new FormatError(path, `"${name}.scales" holds ${scales.length} scales; ${count} elements in groups of ${m.group_size} need ${count / m.group_size}`);
    const zeros = m.symmetric ? null : raw(`${name}.qzeros`).slice();
    if (zeros && zeros.length !== scales.length) throw new FormatError(path, `"${name}.qzeros" holds ${zeros.length} zero points for ${scales.length} groups`);
    out.set(name, { kind: 'quantized', q: { spec: { bits: m.bits, groupSize: m.group_size, symmetric: m.symmetric }, shape: m.shape, codes, scales, zeros } });
  }
  return out;
}

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function f32From(b: Uint8Array): Float32Array {
  return new Float32Array(b.slice().buffer); // copy: the file's offsets need not be 4-aligned
}
