import { InputError } from '../../../errors.ts';
import { writeFileAtomic } from '../atomic_write.ts';
import { DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufType } from './constants.ts';
import type { GgufTypeId } from './constants.ts';
import { TENSOR_TYPES } from './tensor_types.ts';

/** A metadata value with its GGUF type spelled out (JS numbers do not say u32 vs f32). */
export type GgufKv =
  | { readonly type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'u64' | 'i64' | 'f64'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'array'; readonly itemType: 'u32' | 'i32' | 'f32' | 'string'; readonly value: readonly (number | string)[] };

export type GgufWriteType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K';

export interface GgufTensorToWrite {
  readonly name: string;
  /** Row-major, slowest-first (HF order); written as ne = shape reversed. */
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly type: GgufWriteType;
}

const TYPE_ID: Record<string, GgufTypeId> = {
  u8: GgufType.UINT8, i8: GgufType.INT8, u16: GgufType.UINT16, i16: GgufType.INT16, u32: GgufType.UINT32,
  i32: GgufType.INT32, f32: GgufType.FLOAT32, bool: GgufType.BOOL, string: GgufType.STRING, array: GgufType.ARRAY,
  u64: GgufType.UINT64, i64: GgufType.INT64, f64: GgufType.FLOAT64,
};

/** Growable little-endian byte sink. */
class Sink {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  scalar(type: string, v: number | boolean): void {
    const n = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 }[type]!;
    this.room(n);
    const at = this.len;
    const x = Number(v);
    switch (type) {
      case 'u8': case 'bool': this.dv.setUint8(at, x); break;
      case 'i8': this.dv.setInt8(at, x); break;
      case 'u16': this.dv.setUint16(at, x, true); break;
      case 'i16': this.dv.setInt16(at, x, true); break;
      case 'u32': this.dv.setUint32(at, x, true); break;
      case 'i32': this.dv.setInt32(at, x, true); break;
      case 'f32': this.dv.setFloat32(at, x, true); break;
      case 'u64': this.dv.setBigUint64(at, BigInt(x), true); break;
      case 'i64': this.dv.setBigInt64(at, BigInt(x), true); break;
      case 'f64': this.dv.setFloat64(at, x, true); break;
    }
    this.len += n;
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.scalar('u64', b.length);
    this.bytes(b);
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  pad(alignment: number): void {
    this.bytes(new Uint8Array((alignment - (this.len % alignment)) % alignment));
  }
  take(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

function encodeTensor(t: GgufTensorToWrite): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n !== t.data.length) throw new InputError(`writeGguf: tensor "${t.name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
  return TENSOR_TYPES[GgmlType[t.type]]!.quantize(t.data);
}

/** A tensor to write whose values are made only when its turn comes (a streaming re-encode). */
export interface LazyTensorToWrite extends Omit<GgufTensorToWrite, 'data'> {
  readonly data: () => Float32Array;
}

/** Bytes of a tensor's data as `type` (checked: the last dim a multiple of its block). */
function blobBytes(t: Omit<GgufTensorToWrite, 'data'>): number {
  const codec = TENSOR_TYPES[GgmlType[t.type]]!;
  if ((t.shape.at(-1) ?? 0) % codec.elems !== 0) {
    throw new InputError(`writeGguf: tensor "${t.name}": ${t.type} needs the last dim (${t.shape.at(-1)}) to be a multiple of ${codec.elems}`);
  }
  return (t.shape.reduce((a, b) => a * b, 1) / codec.elems) * codec.bytes;
}

/**
 * Serializes a GGUF v3 file: header, metadata, tensor infos, then aligned tensor data. `rawKv`:
 * metadata entries already encoded (key, type and value, as GgufFile.kvSpans gives them), written first.
 */
export function encodeGguf(metadata: ReadonlyMap<string, GgufKv>, tensors: readonly GgufTensorToWrite[], rawKv: readonly Uint8Array[] = []): Uint8Array[] {
  return [...encodeGgufLazy(metadata, tensors.map((t) => ({ ...t, data: () => t.data })), rawKv)];
}

/**
 * encodeGguf one piece at a time: the header (every offset follows from the types and shapes), then
 * each tensor's data, encoded only when it is asked for, so a writer holds one tensor at a time.
 */
export function* encodeGgufLazy(metadata: ReadonlyMap<string, GgufKv>, tensors: readonly LazyTensorToWrite[], rawKv: readonly Uint8Array[] = []): Generator<Uint8Array> {
  const alignKv = metadata.get('general.alignment');
  const alignment = alignKv ? Number(alignKv.value) : DEFAULT_ALIGNMENT;
  const sizes = tensors.map(blobBytes);
  const head = new Sink();
  head.scalar('u32', GGUF_MAGIC);
  head.scalar('u32', 3);
  head.scalar('u64', tensors.length);
  head.scalar('u64', rawKv.length + metadata.size);
  for (const kv of rawKv) head.bytes(kv);
  for (const [key, kv] of metadata) {
    head.str(key);
    head.scalar('u32', TYPE_ID[kv.type]!);
    if (kv.type === 'string') head.str(kv.value);
    else if (kv.type === 'array') {
      head.scalar('u32', TYPE_ID[kv.itemType]!);
      head.scalar('u64', kv.value.length);
      for (const v of kv.value) {
        if (kv.itemType === 'string') head.str(String(v));
        else head.scalar(kv.itemType, Number(v));
      }
    } else head.scalar(kv.type, kv.value);
  }
  let offset = 0;
  tensors.forEach((t, i) => {
    head.str(t.name);
    head.scalar('u32', t.shape.length);
    for (const d of [...t.shape].reverse()) head.scalar('u64', d); // ne[0] is the fastest dim
    head.scalar('u32', GgmlType[t.type]);
    head.scalar('u64', offset);
    offset += Math.ceil(sizes[i]! / alignment) * alignment;
  });
  head.pad(alignment);
  yield head.take();
  for (const [i, t] of tensors.entries()) {
    const b = encodeTensor({ ...t, data: t.data() });
    if (b.length !== sizes[i]) throw new InputError(`writeGguf: tensor "${t.name}" encoded to ${b.length} bytes, its header says ${sizes[i]}`);
    yield b;
    const pad = (alignment - (b.length % alignment)) % alignment;
    if (pad) yield new Uint8Array(pad);
  }
}

/** Writes a GGUF file atomically (temp file, then rename). */
export function writeGguf(path: string, metadata: ReadonlyMap<string, GgufKv>, tensors: readonly GgufTensorToWrite[]): void {
  writeFileAtomic(path, encodeGguf(metadata, tensors));
}
