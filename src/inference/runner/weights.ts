import { FormatError } from '../../errors.ts';
import { modelExtras } from '../../models/types.ts';
import type { LoadedModel, HostTensor } from '../loaders/types.ts';
import type { SharedArena } from '../wasm/arena.ts';
import { packLinear, type PackedMatrix } from './gemm.ts';

/** What the runner needs of a loaded model (a runner worker gets no tokenizer). */
export type WeightSource = Pick<LoadedModel, 'config' | 'weights' | 'source'>;

/**
 * The weights as the runner uses them, placed in its SharedArena (byte offsets: plain data that
 * worker threads receive and read in place). Linear weights are packed for the gemm kernel and
 * fused where they read the same input:
 *   qkv    [D, (H + 2·Hkv)·Dh]   columns: q heads, then k heads, then v heads
 *   gateUp [D, 2F]               columns: gate, then up
 */
export interface LayerWeights {
  readonly inputNorm: number; // [D]
  readonly postNorm: number; // [D]
  readonly qkv: PackedMatrix;
  readonly o: PackedMatrix; // [H·Dh, D]
  readonly gateUp: PackedMatrix;
  readonly down: PackedMatrix; // [F, D]
  /** Architecture extras, null when the model has none: q/k/v biases in the qkv column order [(H + 2·Hkv)·Dh] (Qwen2). */
  readonly qkvBias: number | null;
  /** RMSNorm weights over each head of q and of k, [Dh] each (Qwen3). */
  readonly qNorm: number | null;
  readonly kNorm: number | null;
}

export interface RunnerWeights {
  readonly embed: number; // [V, D]
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: number; // [D]
  readonly lmHead: PackedMatrix; // [D, V]
}

function get(model: WeightSource, name: string, shape: readonly number[]): HostTensor {
  const t = model.weights.get(name);
  if (!t) throw new FormatError(model.source, `weight ${name} is missing`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new FormatError(model.source, `weight ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

/** Checks every weight's shape and places it in the arena. */
export function placeWeights(arena: SharedArena, model: WeightSource): RunnerWeights {
  const steps = placeSteps(arena, model);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** placeWeights one layer per macrotask, so that a server placing its model still answers /health. */
export async function placeWeightsAsync(arena: SharedArena, model: WeightSource): Promise<RunnerWeights> {
  const steps = placeSteps(arena, model);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function* placeSteps(arena: SharedArena, model: WeightSource): Generator<void, RunnerWeights> {
  const c = model.config;
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, intermediateSize: F, vocabSize: V } = c;
  const extras = modelExtras(c);
  const embed = get(model, 'model.embed_tokens.weight', [V, D]);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const w = (name: string, shape: readonly number[]) => get(model, p + name, shape);
    layers.push({
      inputNorm: arena.put(w('input_layernorm.weight', [D]).data, `${p}input_layernorm`),
      postNorm: arena.put(w('post_attention_layernorm.weight', [D]).data, `${p}post_attention_layernorm`),
      qkv: packLinear(arena, [w('self_attn.q_proj.weight', [H * Dh, D]), w('self_attn.k_proj.weight', [Hkv * Dh, D]), w('self_attn.v_proj.weight', [Hkv * Dh, D])], `${p}qkv`),
      o: packLinear(arena, [w('self_attn.o_proj.weight', [D, H * Dh])], `${p}o_proj`),
      gateUp: packLinear(arena, [w('mlp.gate_proj.weight', [F, D]), w('mlp.up_proj.weight', [F, D])], `${p}gate_up`),
      down: packLinear(arena, [w('mlp.down_proj.weight', [D, F])], `${p}down_proj`),
      qkvBias: extras.attentionBias ? arena.put(concat([w('self_attn.q_proj.bias', [H * Dh]), w('self_attn.k_proj.bias', [Hkv * Dh]), w('self_attn.v_proj.bias', [Hkv * Dh])]), `${p}qkv_bias`) : null,
      qNorm: extras.qkNorm ? arena.put(w('self_attn.q_norm.weight', [Dh]).data, `${p}q_norm`) : null,
      kNorm: extras.qkNorm ? arena.put(w('self_attn.k_norm.weight', [Dh]).data, `${p}k_norm`) : null,
    });
    yield;
  }
  const head = c.tieWordEmbeddings && !model.weights.has('lm_head.weight') ? embed : get(model, 'lm_head.weight', [V, D]);
  return {
    embed: arena.put(embed.data, 'embed_tokens'),
    layers,
    finalNorm: arena.put(get(model, 'model.norm.weight', [D]).data, 'model.norm'),
    lmHead: packLinear(arena, [head], 'lm_head'),
  };
}

function concat(parts: readonly HostTensor[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, t) => n + t.shape[0]!, 0)); // 1-D biases
  let at = 0;
  for (const t of parts) {
    out.set(t.data, at);
    at += t.shape[0]!;
  }
  return out;
}

/** Bytes placeWeights will take (to size the arena up front). */
export function weightBytes(model: WeightSource): number {
  let floats = 0;
  for (const t of model.weights.values()) floats += t.data.length;
  const c = model.config;
  if (c.tieWordEmbeddings && !model.weights.has('lm_head.weight')) floats += c.vocabSize * c.hiddenSize;
  // + panel padding (under 8 columns × K for each of the 4 packed matrices a layer and the LM head)
  // and 64-byte alignment of every region (up to 9 a layer with the extras, 3 more)
  const maxK = Math.max(c.hiddenSize, c.intermediateSize, c.numHeads * c.headDim);
  return 4 * floats + 4 * 7 * maxK * (4 * c.numLayers + 1) + 64 * (9 * c.numLayers + 3);
}
