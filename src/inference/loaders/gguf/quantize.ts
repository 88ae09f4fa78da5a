import { statSync } from 'node:fs';
import { InputError } from '../../../errors.ts';
import { writeFileAtomic } from '../atomic_write.ts';
import { GgmlType } from './constants.ts';
import { openGguf } from './open.ts';
import { readTensorData, type GgufFile, type GgufTensorInfo } from './reader.ts';
import { TENSOR_TYPES } from './tensor_types.ts';
import { encodeGgufLazy, type GgufWriteType } from './writer.ts';

/**
 * `ds quantize`: a GGUF's 2-D weights re-encoded to a llama-quantize preset (deepscale's own
 * quantizers, kquant.ts / quant.ts); 1-D tensors (norms, biases) stay F32 and every metadata
 * entry is copied as it is, but general.file_type and general.quantization_version.
 *
 * The K_M mixes follow llama.cpp's choice of tensors that get more bits: the output head and,
 * in the first and last eighth of the layers and every third layer between, attn_v and ffn_down.
 */
export const QUANT_PRESETS = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k_m', 'q4_k_s', 'q4_k_m', 'q5_k_s', 'q5_k_m', 'q6_k'] as const;
export type QuantPreset = (typeof QUANT_PRESETS)[number];

/** llama_ftype of each preset (llama.h), for general.file_type. */
const FILE_TYPE: Record<QuantPreset, number> = { f32: 0, f16: 1, bf16: 32, q8_0: 7, q4_0: 2, q4_1: 3, q5_0: 8, q5_1: 9, q2_k: 10, q3_k_m: 12, q4_k_s: 14, q4_k_m: 15, q5_k_s: 16, q5_k_m: 17, q6_k: 18 };

/** The base type of each preset, and the type its more-bits tensors get. */
const MIX: Record<QuantPreset, { base: GgufWriteType; more: GgufWriteType; output: GgufWriteType }> = {
  f32: { base: 'F32', more: 'F32', output: 'F32' },
  f16: { base: 'F16', more: 'F16', output: 'F16' },
  bf16: { base: 'BF16', more: 'BF16', output: 'BF16' },
  q8_0: { base: 'Q8_0', more: 'Q8_0', output: 'Q8_0' },
  q4_0: { base: 'Q4_0', more: 'Q4_0', output: 'Q6_K' },
  q4_1: { base: 'Q4_1', more: 'Q4_1', output: 'Q6_K' },
  q5_0: { base: 'Q5_0', more: 'Q5_0', output: 'Q6_K' },
  q5_1: { base: 'Q5_1', more: 'Q5_1', output: 'Q6_K' },
  q2_k: { base: 'Q2_K', more: 'Q3_K', output: 'Q6_K' },
  q3_k_m: { base: 'Q3_K', more: 'Q5_K', output: 'Q6_K' },
  q4_k_s: { base: 'Q4_K', more: 'Q4_K', output: 'Q6_K' },
  q4_k_m: { base: 'Q4_K', more: 'Q6_K', output: 'Q6_K' },
  q5_k_s: { base: 'Q5_K', more: 'Q5_K', output: 'Q6_K' },
  q5_k_m: { base: 'Q5_K', more: 'Q6_K', output: 'Q6_K' },
  q6_k: { base: 'Q6_K', more: 'Q6_K', output: 'Q6_K' },
};

/** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between (integer eighths, as its C does). */
function moreBits(layer: number, layers: number): boolean {
  const eighth = Math.floor(layers / 8);
  return layer < eighth || layer >= Math.floor((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

/** A type whose block fits the row: k-quants need rows of 256, falling back to Q8_0 (rows of 32), then F16. */
function fitting(type: GgufWriteType, rowLen: number): GgufWriteType {
  if (rowLen % TENSOR_TYPES[GgmlType[type]]!.elems === 0) return type;
  return rowLen % 32 === 0 ? 'Q8_0' : 'F16';
}

/**
 * The type `preset` gives tensor `t` of a model with `layers` layers. With tied embeddings (no
 * output.weight) token_embd is also the LM head, so it gets the output type, as llama-quantize does.
 */
export function presetType(preset: QuantPreset, t: GgufTensorInfo, layers: number, hasOutput = true): GgufWriteType {
  if (t.shape.length < 2) return 'F32';
  const mix = MIX[preset];
  const layer = /^blk\.(\d+)\./.exec(t.name);
  let type = mix.base;
  if (t.name === 'output.weight' || (!hasOutput && t.name === 'token_embd.weight')) type = mix.output;
  else if (layer && /\.(attn_v|ffn_down)\.weight$/.test(t.name) && moreBits(Number(layer[1]), layers)) type = mix.more;
  return fitting(type, t.shape.at(-1)!);
}

export interface QuantizeReport {
  readonly tensors: readonly { name: string; from: string; to: GgufWriteType }[];
  readonly inBytes: number;
  readonly outBytes: number;
}

/**
 * `ds quantize` on files, streaming: the input's tensors are read from the file one at a time and
 * each is written out before the next is read (peak memory: about the largest tensor as float32
 * and its encoding, never the whole model).
 */
export function quantizeGgufFile(input: string, output: string, preset: QuantPreset): QuantizeReport {
  if (!QUANT_PRESETS.includes(preset)) throw new InputError(`ds quantize: --type ${String(preset)} is not one of ${QUANT_PRESETS.join(', ')}`);
  const g = openGguf(input);
  const { chunks, report } = quantizeLazy(g, preset);
  let outBytes = 0;
  writeFileAtomic(output, (function* () {
    for (const c of chunks) (outBytes += c.length), yield c;
  })());
  return { ...report, inBytes: statSync(input).size, outBytes };
}

/** The encoded output of quantizing `g` (in memory) to `preset`, and what each tensor became. */
export function quantizeGguf(g: GgufFile, preset: QuantPreset): { chunks: Uint8Array[]; report: QuantizeReport } {
  const { chunks: lazy, report } = quantizeLazy(g, preset);
  const chunks = [...lazy];
  return { chunks, report: { ...report, inBytes: g.bytes.length, outBytes: chunks.reduce((n, c) => n + c.length, 0) } };
}

/** The output's pieces (tensor data read from `g` and encoded as each is asked for) and the types chosen. */
function quantizeLazy(g: GgufFile, preset: QuantPreset): { chunks: Generator<Uint8Array>; report: Omit<QuantizeReport, 'inBytes' | 'outBytes'> } {
  const arch = g.metadata.get('general.architecture');
  const layers = Number(g.metadata.get(`${String(arch)}.block_count`) ?? 0);
  const skip = new Set(['general.file_type', 'general.quantization_version']);
  const raw = [...g.kvSpans].filter(([k]) => !skip.has(k)).map(([, [a, b]]) => g.bytes.subarray(a, b));
  const md = new Map([
    ['general.file_type', { type: 'u32' as const, value: FILE_TYPE[preset] }],
    ['general.quantization_version', { type: 'u32' as const, value: 2 }],
  ]);
  const report: { name: string; from: string; to: GgufWriteType }[] = [];
  const hasOutput = g.tensors.some((t) => t.name === 'output.weight');
  const tensors = g.tensors.map((t) => {
    const to = presetType(preset, t, layers, hasOutput);
    report.push({ name: t.name, from: TENSOR_TYPES[t.type]?.name ?? String(t.type), to });
    return { name: t.name, shape: t.shape, data: () => readTensorData(g, t), type: to };
  });
  return { chunks: encodeGgufLazy(md, tensors, raw), report: { tensors: report } };
}
