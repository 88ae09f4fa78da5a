/**
 * Tensor parallelism (Megatron-LM's): each decoder layer's matrices are split over the tp ranks
 * of a model-parallel group, so a layer too wide for one rank trains on several.
 *
 *   attention: q, k, v column-parallel (each rank its heads; kv heads replicated when fewer than
 *              ranks), o row-parallel (the columns of those heads)
 *   MLP:       gate, up column-parallel, down row-parallel
 *   embedding: vocab-parallel rows; lm_head: vocab-parallel rows, logits [B, T, V/tp], scored by
 *              the vocab-parallel cross entropy (executor.ts), full logits never gathered
 *   norms:     replicated; their gradients are partial sums, summed over the ranks
 *
 * A residual branch's output is a partial sum, all-reduced before the residual add (g), and a
 * layer's input gradient likewise (f); the executor does both between layers (executor.ts).
 * Each parameter's split comes from its ParamSpec (tpDim, tpUnit) through tpSlice, and a rank's
 * parameters are cut from the full model's initialization, so a tp run from a seed equals the
 * 1-rank run from that seed.
 */
import { ConfigError } from '../errors.ts';
import { buildLlama } from '../models/llama.ts';
import { embeddingLayer } from '../models/layers/embedding.ts';
import { attentionLayer } from '../models/layers/attention.ts';
import { mlpLayer } from '../models/layers/mlp.ts';
import { lmHeadLayer } from '../models/layers/lm_head.ts';
import type { Layer, Model, ModelConfig, ParamSpec, TpSlice } from '../models/types.ts';
import type { ProcessGroup } from '../runtime/comm/index.ts';
import type { TensorParallel } from '../runtime/engine/executor.ts';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * The part of the full parameter `spec` that tp rank `rank` of `tp` holds.
 *   tpDim null:                       the whole, held by every rank;
 *   units along tpDim divisible by tp: an equal share of whole units (heads), one rank each;
 *   fewer units than ranks (kv heads): unit ⌊rank·units/tp⌋, held by tp/units ranks;
 *   tpUnit 1 (vocabulary, MLP width): rows ⌊rank·n/tp⌋ … ⌊(rank+1)·n/tp⌋, uneven where n is.
 */
export function tpSlice(spec: ParamSpec, tp: number, rank: number): TpSlice {
  const fullShape = [...spec.shape];
  if (spec.tpDim === null || tp === 1) return { fullShape, dim: 0, start: 0, end: fullShape[0]!, sharedBy: range(tp) };
  const dim = spec.tpDim;
  const n = fullShape[dim]!;
  const unit = spec.tpUnit ?? 1;
  const units = n / unit;
  if (units % tp === 0) {
    const per = (units / tp) * unit;
    return { fullShape, dim, start: rank * per, end: (rank + 1) * per, sharedBy: [rank] };
  }
  if (unit > 1 && tp % units === 0) {
    const copies = tp / units;
    const u = Math.floor(rank / copies);
    return { fullShape, dim, start: u * unit, end: (u + 1) * unit, sharedBy: range(copies).map((i) => u * copies + i) };
  }
  if (unit === 1 && n >= tp) return { fullShape, dim, start: Math.floor((rank * n) / tp), end: Math.floor(((rank + 1) * n) / tp), sharedBy: [rank] };
  throw new ConfigError('tensor_parallel.autotp_size', `${spec.name}: ${units} ${unit > 1 ? 'heads' : 'rows'} along dimension ${dim} cannot be split over ${tp} tensor-parallel ranks`);
}

/** Heads and kv heads against the tp size: an error naming the numbers where they do not split. */
export function checkTensorParallel(config: ModelConfig, tp: number): void {
  const where = 'tensor_parallel.autotp_size';
  if (config.numHeads % tp !== 0) throw new ConfigError(where, `num_attention_heads ${config.numHeads} is not divisible by tensor parallel ${tp}`);
  if (config.numKvHeads % tp !== 0 && tp % config.numKvHeads !== 0)
    throw new ConfigError(where, `num_key_value_heads ${config.numKvHeads} is neither divisible by tensor parallel ${tp} nor a divisor of it (kv heads are split, or replicated when there are fewer than tp)`);
  if (config.vocabSize < tp) throw new ConfigError(where, `vocab_size ${config.vocabSize} is smaller than tensor parallel ${tp}`);
  if (config.intermediateSize < tp) throw new ConfigError(where, `intermediate_size ${config.intermediateSize} is smaller than tensor parallel ${tp}`);
}

/**
 * Tp rank `rank`'s model: the same layer list and parameter names as buildLlama(config), each
 * layer on its local heads, MLP columns and vocabulary rows, each ParamSpec with its `slice` of
 * the full parameter. `config` stays the full model's (checkpoints and exports name it).
 */
export function tensorParallelLlama(config: ModelConfig, tp: number, rank: number): { model: Model; vocab: { start: number; end: number } } {
  checkTensorParallel(config, tp);
  const full = buildLlama(config);
  if (tp === 1) return { model: full, vocab: { start: 0, end: config.vocabSize } };
  const fullSpecs = new Map(full.layers.flatMap((l) => l.params).map((p) => [p.name, p]));
  const vocab = tpSlice(fullSpecs.get(full.layers[0]!.params[0]!.name)!, tp, rank);
  const ff = tpSlice(fullSpecs.get('model.layers.0.mlp.gate_proj.weight')!, tp, rank);
  const local: ModelConfig = {
    ...config,
    numHeads: config.numHeads / tp,
    numKvHeads: Math.max(1, config.numKvHeads / tp),
    intermediateSize: ff.end - ff.start,
    vocabSize: vocab.end - vocab.start,
  };
  const layers: Layer[] = [embeddingLayer(local, vocab.start)];
  for (let i = 0; i < config.numLayers; i++) layers.push(attentionLayer(local, i), mlpLayer(local, i));
  layers.push(lmHeadLayer(local));
  const sliced = layers.map((layer, li): Layer => {
    if (layer.name !== full.layers[li]!.name) throw new Error(`tensorParallelLlama: layer ${li} is ${layer.name}, the full model's is ${full.layers[li]!.name}`);
    const params = layer.params.map((p): ParamSpec => {
      const whole = fullSpecs.get(p.name)!;
      const slice = tpSlice(whole, tp, rank);
      const want = whole.shape.map((d, k) => (k === slice.dim ? slice.end - slice.start : d));
      if (want.join() !== p.shape.join()) throw new Error(`tensorParallelLlama: ${p.name} is [${p.shape}] on tp rank ${rank}, its slice [${want}]`);
      return { ...p, slice };
    });
    return { ...layer, params, forward: layer.forward };
  });
  return { model: { config, layers: sliced }, vocab: { start: vocab.start, end: vocab.end } };
}

/** The part `slice` of a full parameter's values `full` (row-major over slice.fullShape). */
export function sliceValues(full: Float32Array, slice: TpSlice): Float32Array {
  const shape = slice.fullShape;
  const outer = shape.slice(0, slice.dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(slice.dim + 1).reduce((a, b) => a * b, 1);
  const n = shape[slice.dim]!;
  const w = slice.end - slice.start;
  const out = new Float32Array(outer * w * inner);
  for (let o = 0; o < outer; o++) out.set(full.subarray((o * n + slice.start) * inner, (o * n + slice.end) * inner), o * w * inner);
  return out;
}

/**
 * The TensorParallel a layer loop uses: all-reduces over the tp group `ranks` (world ranks, tp
 * rank order) and sums of shared gradient parts over the sub-groups that hold them (kv heads
 * replicated over fewer ranks than the group), each created once here on its members.
 */
export function tensorParallelGroup(pg: ProcessGroup, ranks: readonly number[], rank: number, model: Model, vocab: { start: number; end: number }): { tp: TensorParallel; group: ProcessGroup; subgroups: readonly ProcessGroup[] } {
  const group = pg.newGroup(ranks);
  const subs = new Map<string, ProcessGroup>();
  for (const p of model.layers.flatMap((l) => l.params)) {
    const by = p.slice?.sharedBy;
    if (!by || by.length <= 1 || by.length === ranks.length) continue;
    const key = by.join(',');
    if (!subs.has(key)) subs.set(key, pg.newGroup(by.map((r) => ranks[r]!)));
  }
  const tp: TensorParallel = {
    size: ranks.length,
    rank,
    vocab,
    allReduce: (buf, op) => group.allReduce(buf, { op }),
    sumShared: (buf, sharedBy) => (sharedBy.length === ranks.length ? group.allReduce(buf, { op: 'sum' }) : subs.get(sharedBy.join(','))!.allReduce(buf, { op: 'sum' })),
  };
  return { tp, group, subgroups: [...subs.values()] };
}
