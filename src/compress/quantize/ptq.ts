import { InputError } from '../../errors.ts';
import type { HostTensor } from '../../inference/loaders/types.ts';
import { dequantizeGroups, quantizeGroups, type QuantizedGroups, type QuantSpec } from './formulas.ts';

/**
 * Post-training quantization of a model's weights (HF names → HostTensor):
 *   int8: per output channel (one scale per row of a [out, in] weight), 8 bits;
 *   int4: group-wise along each row, groups of 32, 64 or 128, 4 bits.
 * Both symmetric (default) or asymmetric (a zero point per group). Only 2-D weights are quantized
 * (linear layers and embeddings); 1-D norms stay float32, as llama.cpp keeps them.
 */
export const PTQ_SCHEMES = ['int8', 'int4'] as const;
export type PtqScheme = (typeof PTQ_SCHEMES)[number];
export const INT4_GROUPS = [32, 64, 128] as const;

export interface PtqOptions {
  readonly scheme: PtqScheme;
  /** int4 only: elements per scale (default 32). int8 is always per output channel. */
  readonly groupSize?: number;
  readonly symmetric?: boolean;
}

/** A model after PTQ: each weight either quantized or kept as float32. */
export type PtqWeight = { readonly kind: 'quantized'; readonly q: QuantizedGroups } | { readonly kind: 'float'; readonly t: HostTensor };

/** The spec a weight of row length `rowLen` gets under `o`. */
export function ptqSpec(o: PtqOptions, rowLen: number): QuantSpec {
  if (!(PTQ_SCHEMES as readonly string[]).includes(o.scheme)) throw new InputError(`PTQ: scheme ${JSON.stringify(o.scheme)} is not one of ${PTQ_SCHEMES.join(', ')}`);
  const symmetric = o.symmetric ?? true;
  if (o.scheme === 'int8') {
    if (o.groupSize !== undefined) throw new InputError(`PTQ: int8 is per output channel; a group size (${o.groupSize}) applies to int4 only`);
    return { bits: 8, groupSize: rowLen, symmetric };
  }
  const g = o.groupSize ?? 32;
  if (!(INT4_GROUPS as readonly number[]).includes(g)) throw new InputError(`PTQ: int4 group size ${g} is not one of ${INT4_GROUPS.join(', ')}`);
  return { bits: 4, groupSize: g, symmetric };
}

/** Quantizes every 2-D weight; a row length the group size does not divide is an error naming the tensor. */
export function quantizeWeights(weights: ReadonlyMap<string, HostTensor>, o: PtqOptions): Map<string, PtqWeight> {
  const out = new Map<string, PtqWeight>();
  for (const [name, t] of weights) {
    if (t.shape.length !== 2) {
      out.set(name, { kind: 'float', t });
      continue;
    }
    const spec = ptqSpec(o, t.shape[1]!);
    out.set(name, { kind: 'quantized', q: quantizeGroups(t.data, t.shape, spec, undefined, `PTQ ${o.scheme} of "${name}" [${t.shape.join(', ')}]`) });
  }
  return out;
}

/** Float32 weights as the quantized model computes with them (x̂ = s·(q − z)). */
export function dequantizeWeights(q: ReadonlyMap<string, PtqWeight>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, w] of q) out.set(name, w.kind === 'float' ? w.t : { shape: [...w.q.shape], data: dequantizeGroups(w.q) });
  return out;
}
