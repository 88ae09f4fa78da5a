/**
 * Fused projections (Phi-3): q, k and v as one weight, and gate and up as one, in GGUF
 * (attn_qkv [(H + 2·Hkv)·Dh, D], ffn_up [2F, D]) and in HF (qkv_proj, gate_up_proj). The loaders
 * split them into the Llama names the runner takes (the runner fuses them again as it packs);
 * the split is a view of rows, so a tensor kept in its stored format stays stored (ggml rows are
 * whole blocks). Export fuses them back.
 *   qkv:     rows [0, H·Dh) q | [H·Dh, (H+Hkv)·Dh) k | the rest v
 *   gate_up: rows [0, F) gate | [F, 2F) up        (Phi-3 computes silu(first half) · second half)
 */
import { FormatError } from '../../errors.ts';
import type { ModelConfig } from '../../models/types.ts';
import type { HostTensor, StoredTensor } from './types.ts';

/** Rows [r0, r1) of a [rows, cols] tensor, sharing its data (and its stored bytes). */
export function rowSlice(t: HostTensor, r0: number, r1: number): HostTensor {
  const [rows, cols] = t.shape as [number, number];
  const s = t.stored;
  let stored: StoredTensor | undefined;
  if (s) {
    const rowBytes = s.byteLength / rows;
    const bytes = () => s.bytes.subarray(r0 * rowBytes, r1 * rowBytes);
    stored = { type: s.type, byteLength: (r1 - r0) * rowBytes, get bytes() { return bytes(); }, copyTo: (dst) => dst.set(bytes()) };
  }
  return { shape: [r1 - r0, cols], get data() { return t.data.subarray(r0 * cols, r1 * cols); }, ...(stored ? { stored } : {}) };
}

/** Rows stacked: parts [r_i, cols] → [Σ r_i, cols] (float32; for export). */
export function rowConcat(parts: readonly HostTensor[]): HostTensor {
  const cols = parts[0]!.shape[1]!;
  const rows = parts.reduce((n, p) => n + p.shape[0]!, 0);
  const data = new Float32Array(rows * cols);
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { shape: [rows, cols], data };
}

/**
 * Replaces each layer's `{qkv}` and `{gateUp}` weights (HF names under the layer) with the split
 * ones, in place. `nameOf` gives a tensor's name as the file spells it, for errors.
 */
export function splitFused(weights: Map<string, HostTensor>, c: ModelConfig, names: { qkv: string; gateUp: string }, file: string, nameOf = (hf: string) => hf): void {
  const { numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F, hiddenSize: D } = c;
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const take = (name: string, rows: number, cols: number): HostTensor => {
      const t = weights.get(p + name);
      if (!t) throw new FormatError(file, `tensor "${nameOf(p + name)}" is missing`);
      if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== cols) {
        throw new FormatError(file, `tensor "${nameOf(p + name)}" has shape [${t.shape.join(', ')}], the config needs [${rows}, ${cols}]`);
      }
      weights.delete(p + name);
      return t;
    };
    const qkv = take(names.qkv, (H + 2 * Hkv) * Dh, D);
    weights.set(`${p}self_attn.q_proj.weight`, rowSlice(qkv, 0, H * Dh));
    weights.set(`${p}self_attn.k_proj.weight`, rowSlice(qkv, H * Dh, (H + Hkv) * Dh));
    weights.set(`${p}self_attn.v_proj.weight`, rowSlice(qkv, (H + Hkv) * Dh, (H + 2 * Hkv) * Dh));
    const gateUp = take(names.gateUp, 2 * F, D);
    weights.set(`${p}mlp.gate_proj.weight`, rowSlice(gateUp, 0, F));
    weights.set(`${p}mlp.up_proj.weight`, rowSlice(gateUp, F, 2 * F));
  }
}

/** The inverse of splitFused, on a copy: the fused weights under `names`. */
export function fuseSplit(weights: ReadonlyMap<string, HostTensor>, c: ModelConfig, names: { qkv: string; gateUp: string }): Map<string, HostTensor> {
  const out = new Map(weights);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const pop = (name: string): HostTensor => {
      const t = out.get(p + name);
      if (!t) throw new RangeError(`fuseSplit: weight ${p + name} is missing`);
      out.delete(p + name);
      return t;
    };
    out.set(p + names.qkv, rowConcat([pop('self_attn.q_proj.weight'), pop('self_attn.k_proj.weight'), pop('self_attn.v_proj.weight')]));
    out.set(p + names.gateUp, rowConcat([pop('mlp.gate_proj.weight'), pop('mlp.up_proj.weight')]));
  }
  return out;
}
