import { readFileSync } from 'node:fs';
import { FormatError } from '../../../errors.ts';
import { decodeBf16, decodeF16, decodeF32 } from '../dtype.ts';
import type { HostTensor } from '../types.ts';

/**
 * safetensors layout:
 *   [u64 LE n] [n bytes JSON header, space-padded] [data: tensors back to back]
 * The header maps name → {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data
 * start) plus an optional "__metadata__" of string → string.
 */
export interface SafetensorsFile {
  readonly tensors: Map<string, HostTensor>;
  readonly metadata: Record<string, string>;
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
/** A header bigger than this is a corrupt length, not a real header (HF caps it at 100 MB too). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

interface Entry { name: string; dtype: string; shape: number[]; begin: number; end: number }

/** Parses a whole safetensors file held in `bytes`; `file` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.length < 8) throw new FormatError(file, `safetensors file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES || n > bytes.length - 8) {
    throw new FormatError(file, `header length ${n} at offset 0 exceeds the file (${bytes.length} bytes) or the ${MAX_HEADER_BYTES}-byte cap`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new FormatError(file, `header (bytes 8..${8 + n}) is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError(file, 'header is not a JSON object');
  }
  const dataStart = 8 + n;
  const dataSize = bytes.length - dataStart;
  const metadata = parseMetadata((header as Record<string, unknown>)['__metadata__'], file);
  const entries: Entry[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    entries.push(parseEntry(name, v, dataSize, file));
  }
  checkLayout(entries, dataSize, file);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const count = (e.end - e.begin) / BYTES[e.dtype]!;
    const at = dataStart + e.begin;
    const data = e.dtype === 'F32' ? decodeF32(bytes, at, count) : e.dtype === 'F16' ? decodeF16(bytes, at, count) : decodeBf16(bytes, at, count);
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

function parseMetadata(v: unknown, file: string): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError(file, '__metadata__ is not an object');
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw new FormatError(file, `__metadata__.${k} is ${typeof s}, expected a string`);
    out[k] = s;
  }
  return out;
}

function parseEntry(name: string, v: unknown, dataSize: number, file: string): Entry {
  const where = `tensor "${name}"`;
  if (typeof v !== 'object' || v === null) throw new FormatError(file, `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offs } = v as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in BYTES)) {
    throw new FormatError(file, `${where}: dtype ${JSON.stringify(dtype)} is not supported (F32, F16, BF16)`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new FormatError(file, `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new FormatError(file, `${where}: data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
  }
  const [begin, end] = offs as [number, number];
  if (begin > end || end > dataSize) {
    throw new FormatError(file, `${where}: data_offsets [${begin}, ${end}] out of bounds of the ${dataSize}-byte data section`);
  }
  // Multiply with a cap so a corrupt shape cannot overflow to a plausible size.
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (numel * BYTES[dtype]! > dataSize && numel !== 0) break;
  }
  if (numel * BYTES[dtype]! !== end - begin) {
    throw new FormatError(file, `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${numel * BYTES[dtype]!} bytes, data_offsets give ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Tensors must tile the data section exactly: no gaps, no overlaps, nothing past the end. */
function checkLayout(entries: Entry[], dataSize: number, file: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) {
      const why = e.begin < at ? 'overlaps the previous tensor' : 'leaves a gap after the previous tensor';
      throw new FormatError(file, `tensor "${e.name}": data_offsets begin ${e.begin} ${why} (ends at ${at})`);
    }
    at = e.end;
  }
  if (at !== dataSize) throw new FormatError(file, `tensors cover ${at} bytes of the ${dataSize}-byte data section`);
}
