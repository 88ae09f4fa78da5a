import { readFileSync } from 'node:fs';
import { FormatError } from '../../../errors.ts';
import { BLOCK, DEFAULT_ALIGNMENT, GGML_TYPE_NAMES, GGUF_MAGIC, GgufType, MAX_DIMS, SCALAR_BYTES } from './constants.ts';
import type { GgmlTypeId } from './constants.ts';
import { Cursor } from './cursor.ts';
import { tensorType } from './tensor_types.ts';

/**
 * GGUF v2/v3 layout (all little-endian):
 *   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count × { string key | u32 type | value }          (arrays: u32 item type | u64 n | items)
 *   tensor_count × { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   padding to general.alignment (default 32)
 *   data section; each tensor at data_start + offset (offset a multiple of the alignment)
 * ne[] lists dims fastest-first: a linear weight [out, in] has ne = [in, out].
 */
export type GgufValue = number | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  /** Row-major shape, slowest-first (ne reversed), as HF and this project use it. */
  readonly shape: number[];
  readonly type: GgmlTypeId;
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  readonly nbytes: number;
}

export interface GgufFile {
  readonly file: string;
  readonly version: number;
  readonly metadata: Map<string, GgufValue>;
  readonly tensors: GgufTensorInfo[];
  readonly alignment: number;
  /** The file from its start: all of it (parseGguf on a buffer) or at least its header (openGguf). */
  readonly bytes: Uint8Array;
  /** `length` bytes at absolute `offset`: a view of `bytes`, or read from the file (openGguf). */
  readonly read: (offset: number, length: number) => Uint8Array;
  /** Fills `dst` with the bytes at absolute `offset` (from the file straight into dst, for openGguf). */
  readonly readInto: (offset: number, dst: Uint8Array) => void;
  /** Each metadata entry's bytes [start, end) in the file, key and type included (to copy an entry as it is). */
  readonly kvSpans: Map<string, readonly [number, number]>;
}

export function readGguf(path: string): GgufFile {
  return parseGguf(readFileSync(path), path);
}

/** Reads tensor data of a GGUF not (wholly) in memory. */
export interface GgufSource {
  readonly size: number;
  readInto(offset: number, dst: Uint8Array): void;
}

/**
 * Parses the header in `bytes`: the whole file, or the start of `source` (openGguf), from which
 * tensor data is then read.
 */
export function parseGguf(bytes: Uint8Array, file: string, source?: GgufSource): GgufFile {
  const fileSize = source?.size ?? bytes.length;
  const readInto = source ? (offset: number, dst: Uint8Array) => source.readInto(offset, dst) : (offset: number, dst: Uint8Array) => dst.set(bytes.subarray(offset, offset + dst.length));
  const read = source
    ? (offset: number, length: number) => {
        const out = new Uint8Array(length);
        source.readInto(offset, out);
        return out;
      }
    : (offset: number, length: number) => bytes.subarray(offset, offset + length);
  const c = new Cursor(bytes, file);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) c.fail(`bad magic 0x${magic.toString(16)}, expected "GGUF"`, 0);
  const version = c.u32('version');
  if (version !== 2 && version !== 3) c.fail(`GGUF version ${version} is not supported (2, 3)`, 4);
  const nTensors = c.u64('tensor_count');
  const nKv = c.u64('kv_count');
  // Cap counts by the smallest possible encoding of each entry before allocating anything.
  if (nKv > (fileSize - 24) / 13) c.fail(`kv_count ${nKv} cannot fit in the ${fileSize}-byte file`, 16);
  if (nTensors > (fileSize - 24) / 24) c.fail(`tensor_count ${nTensors} cannot fit in the ${fileSize}-byte file`, 8);

  const metadata = new Map<string, GgufValue>();
  const kvSpans = new Map<string, readonly [number, number]>();
  for (let i = 0; i < nKv; i++) {
    const start = c.pos;
    const key = c.str(`metadata key #${i}`);
    const type = c.u32(`type of ${key}`);
    metadata.set(key, readValue(c, type, key));
    kvSpans.set(key, [start, c.pos]);
  }
  const alignment = metadata.get('general.alignment') ?? DEFAULT_ALIGNMENT;
  if (typeof alignment !== 'number' || alignment < 1 || alignment > 1 << 20 || (alignment & (alignment - 1)) !== 0) {
    throw new FormatError(file, `general.alignment ${String(alignment)} is not a power of two`);
  }
  const infos: { name: string; ne: number[]; type: number; rel: number; at: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const at = c.pos;
    const name = c.str(`tensor info #${i} name`);
    const nDims = c.u32(`tensor "${name}" n_dims`);
    if (nDims < 1 || nDims > MAX_DIMS) c.fail(`tensor "${name}": n_dims ${nDims} not in 1..${MAX_DIMS}`, at);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.u64(`tensor "${name}" ne[${d}]`));
    const type = c.u32(`tensor "${name}" type`);
    const rel = c.u64(`tensor "${name}" offset`);
    infos.push({ name, ne, type, rel, at });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  const dataSize = fileSize - dataStart;
  const tensors = infos.map((t) => checkTensor(t, alignment, dataStart, dataSize, file));
  checkNoOverlap(tensors, file);
  return { file, version, metadata, tensors, alignment, bytes, read, readInto, kvSpans };
}

function readValue(c: Cursor, type: number, key: string, depth = 0): GgufValue {
  switch (type) {
    case GgufType.UINT8: return c.u8(key);
    case GgufType.INT8: return c.i8(key);
    case GgufType.UINT16: return c.u16(key);
    case GgufType.INT16: return c.i16(key);
    case GgufType.UINT32: return c.u32(key);
    case GgufType.INT32: return c.i32(key);
    case GgufType.FLOAT32: return c.f32(key);
    case GgufType.BOOL: {
      const at = c.pos;
      const b = c.u8(key);
      if (b > 1) c.fail(`${key}: bool byte is ${b}`, at);
      return b === 1;
    }
    case GgufType.STRING: return c.str(key);
    case GgufType.UINT64: return c.u64(key);
    case GgufType.INT64: return c.i64(key);
    case GgufType.FLOAT64: return c.f64(key);
    case GgufType.ARRAY: {
      const at = c.pos;
      const itemType = c.u32(`${key} array item type`);
      const n = c.u64(`${key} array length`);
      if (depth > 4) c.fail(`${key}: arrays nested deeper than 4`, at);
      const minBytes = SCALAR_BYTES[itemType] ?? (itemType === GgufType.STRING ? 8 : 12);
      if (n > c.remaining / minBytes) c.fail(`${key}: array of ${n} items cannot fit in the ${c.remaining} bytes left`, at);
      const out: GgufValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, itemType, `${key}[${i}]`, depth + 1);
      return out;
    }
    default:
      return c.fail(`${key}: unknown metadata value type ${type}`, c.pos - 4);
  }
}

function checkTensor(
  t: { name: string; ne: number[]; type: number; rel: number; at: number },
  alignment: number, dataStart: number, dataSize: number, file: string,
): GgufTensorInfo {
  const where = `tensor "${t.name}" (info at offset ${t.at})`;
  const block = BLOCK[t.type as GgmlTypeId];
  if (!block) {
    const supported = Object.values(BLOCK).map((b) => b.name).join(', ');
    throw new FormatError(file, `${where}: ggml type ${t.type} (${GGML_TYPE_NAMES[t.type] ?? 'unknown'}) is not supported (${supported})`);
  }
  if (t.ne[0]! % block.elems !== 0) throw new FormatError(file, `${where}: ne[0] ${t.ne[0]} is not a multiple of the ${block.name} block size ${block.elems}`);
  let numel = 1;
  for (const d of t.ne) numel *= d;
  const nbytes = (numel / block.elems) * block.bytes;
  if (t.rel % alignment !== 0) throw new FormatError(file, `${where}: data offset ${t.rel} is not a multiple of the alignment ${alignment}`);
  if (!(nbytes <= dataSize && t.rel <= dataSize - nbytes)) {
    throw new FormatError(file, `${where}: ${nbytes} bytes at data offset ${t.rel} run past the ${dataSize}-byte data section`);
  }
  return { name: t.name, shape: [...t.ne].reverse(), type: t.type as GgmlTypeId, offset: dataStart + t.rel, nbytes };
}

function checkNoOverlap(tensors: GgufTensorInfo[], file: string): void {
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new FormatError(file, `tensor "${t.name}" appears twice`);
    names.add(t.name);
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.offset < prev.offset + prev.nbytes) {
      throw new FormatError(file, `tensor "${cur.name}" at offset ${cur.offset} overlaps "${prev.name}" (ends at ${prev.offset + prev.nbytes})`);
    }
  }
}

/** Dequantizes / widens one tensor to float32, row-major in `info.shape`. */
export function readTensorData(g: GgufFile, info: GgufTensorInfo): Float32Array {
  return tensorType(info.type).dequantize(g.read(info.offset, info.nbytes), 0, info.shape.reduce((a, b) => a * b, 1));
}
