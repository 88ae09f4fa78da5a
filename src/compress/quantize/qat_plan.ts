import { ConfigError } from '../../errors.ts';
import type { Model } from '../../models/types.ts';
import type { DsConfig } from '../../runtime/config/index.ts';

type WeightQuantizationConfig = NonNullable<NonNullable<DsConfig['compression_training']>['weight_quantization']>;
import type { QuantSpec, Rounding } from './formulas.ts';

/**
 * compression_training.weight_quantization resolved against a model: which parameters are
 * fake-quantized, with which bits at which step.
 *
 * Bit schedule (DeepSpeed's compression scheduler): before schedule_offset the weights are used
 * as they are; from then on a group starts at start_bits and loses one bit every
 * quantization_period steps until target_bits:
 *
 *   bits(step) = max(target_bits, start_bits − floor((step − schedule_offset) / quantization_period))
 */
export interface QatGroup {
  readonly name: string;
  readonly startBits: number;
  readonly targetBits: number;
  readonly period: number;
}

export interface QatPlan {
  readonly offset: number;
  readonly symmetric: boolean;
  readonly rounding: Rounding;
  /** Elements per scale of a parameter (its shape and numel decide it). */
  readonly groupSizeOf: (shape: readonly number[]) => number;
  /** fp16_mixed_quantize: forward uses r·w + (1 − r)·q(w), r = max(0, 1 − ratio·(step − offset)); null = off. */
  readonly mixRatio: number | null;
  readonly verbose: boolean;
  /** Parameter name → its group. */
  readonly params: ReadonlyMap<string, QatGroup>;
}

export function bitsAt(g: QatGroup, offset: number, step: number): number | null {
  if (step < offset) return null;
  return Math.max(g.targetBits, g.startBits - Math.floor((step - offset) / g.period));
}

/** Fraction of the float weight mixed into the forward at `step` (fp16_mixed_quantize), 0 when off. */
export function floatShareAt(plan: QatPlan, step: number): number {
  return plan.mixRatio === null ? 0 : Math.max(0, 1 - plan.mixRatio * (step - plan.offset));
}

/** The spec a parameter gets at `bits`. */
export function specFor(plan: QatPlan, shape: readonly number[], bits: number): QuantSpec {
  return { bits, groupSize: plan.groupSizeOf(shape), symmetric: plan.symmetric };
}

/**
 * Matches each group's module patterns (regular expressions searched in the parameter's module
 * name, i.e. its name without ".weight"; "*" = every one) against the model's 2-D weights.
 * A pattern that matches nothing, or a weight claimed by two groups, is a ConfigError.
 */
export function planWeightQuantization(wq: WeightQuantizationConfig, model: Model): QatPlan | null {
  const sp = wq.shared_parameters;
  if (!sp.enabled) return null;
  const at = 'compression_training.weight_quantization';
  const weights = new Map<string, readonly number[]>();
  for (const layer of model.layers) for (const p of layer.params) if (p.shape.length === 2) weights.set(p.name, p.shape);
  const names = [...weights.keys()];
  const params = new Map<string, QatGroup>();
  for (const [name, g] of Object.entries(wq.different_groups)) {
    const group: QatGroup = { name, startBits: g.params.start_bits, targetBits: g.params.target_bits, period: g.params.quantization_period };
    g.modules.forEach((pattern, i) => {
      const re = pattern === '*' ? null : new RegExp(pattern);
      const hits = names.filter((n) => re === null || re.test(n.replace(/\.weight$/, '')));
      if (hits.length === 0)
        throw new ConfigError(`${at}.different_groups.${name}.modules[${i}]`, `${JSON.stringify(pattern)} matches no weight of the model (its weights: ${names.map((n) => n.replace(/\.weight$/, '')).join(', ')})`);
      for (const h of hits) {
        const other = params.get(h);
        if (other && other.name !== name) throw new ConfigError(`${at}.different_groups.${name}.modules[${i}]`, `${JSON.stringify(pattern)} claims ${h}, already in group "${other.name}"`);
        params.set(h, group);
      }
    });
  }
  for (const [name, shape] of weights) {
    if (!params.has(name)) continue;
    const n = shape[0]! * shape[1]!;
    const where = `${at}.shared_parameters.${sp.group_size !== undefined ? 'group_size' : 'quantize_groups'}`;
    if (sp.group_size !== undefined && shape[1]! % sp.group_size !== 0)
      throw new ConfigError(where, `${sp.group_size} does not divide the rows of ${name} [${shape.join(', ')}]`);
    if (sp.group_size === undefined && n % sp.quantize_groups !== 0)
      throw new ConfigError(where, `${sp.quantize_groups} groups do not split ${name} [${shape.join(', ')}] (${n} elements) evenly`);
  }
  const groupSizeOf = (shape: readonly number[]): number => sp.group_size ?? (shape[0]! * shape[1]!) / sp.quantize_groups;
  return {
    offset: sp.schedule_offset,
    symmetric: sp.quantization_type === 'symmetric',
    rounding: sp.rounding,
    groupSizeOf,
    mixRatio: sp.fp16_mixed_quantize.enabled ? sp.fp16_mixed_quantize.quantize_change_ratio : null,
    verbose: sp.quantize_verbose,
    params,
  };
}
