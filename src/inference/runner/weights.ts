import { FormatError } from '../../errors.ts';
import { modelExtras } from '../../models/types.ts';
import type { LoadedModel, HostTensor } from '../loaders/types.ts';
import type { SharedArena } from '../wasm/arena.ts';
import type { GgmlTypeId } from '../loaders/gguf/constants.ts';
import { tensorType } from '../loaders/gguf/tensor_types.ts';
import { packLinear, type PackedMatrix } from './gemm.ts';
import { keepsRows, placeRows, type RowsMatrix } from './qgemm.ts';

/** A linear weight as placed: float32 panels (gemm.ts), or rows kept in their stored format (qgemm.ts). */
export type LinearWeight = PackedMatrix | RowsMatrix;
export const isRows = (w: LinearWeight): w is RowsMatrix => 'parts' in w;

/** float32 values of a tensor; a stored one is dequantized without keeping the result on it. */
function dense(t: HostTensor): Float32Array {
  return t.stored ? tensorType(t.stored.type).dequantize(t.stored.bytes, 0, t.shape.reduce((a, b) => a * b, 1)) : t.data;
}

/** HF linear weights [out_k, in] stacked along out as one product: kept as stored rows where every part has a kernel, else float32 panels. */
function placeLinear(arena: SharedArena, parts: readonly HostTensor[], what: string, reuse?: Map<HostTensor, number>): LinearWeight {
  if (keepsRows(parts)) return placeRows(arena, parts, what, reuse);
  return packLinear(arena, parts.map((p) => ({ shape: p.shape, data: dense(p) })), what);
}

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
  readonly qkv: LinearWeight;
  readonly o: LinearWeight; // [H·Dh, D]
  readonly gateUp: LinearWeight;
  readonly down: LinearWeight; // [F, D]
  /** Architecture extras, null when the model has none: q/k/v biases in the qkv column order [(H + 2·Hkv)·Dh] (Qwen2). */
  readonly qkvBias: number | null;
  /** RMSNorm weights over each head of q and of k, [Dh] each (Qwen3). */
  readonly qNorm: number | null;
  readonly kNorm: number | null;
}

export interface RunnerWeights {
  readonly embed: number; // [V, D] float32, or V rows of embedType's blocks
  /** ggml type of the embedding rows (0: float32). */
  readonly embedType: GgmlTypeId;
  readonly layers: readonly LayerWeights[];
  readonly finalNorm: number; // [D]
  readonly lmHead: LinearWeight; // [D, V]
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
      inputNorm: arena.put(dense(w('input_layernorm.weight', [D])), `${p}input_layernorm`),
      postNorm: arena.put(dense(w('post_attention_layernorm.weight', [D])), `${p}post_attention_layernorm`),
      qkv: placeLinear(arena, [w('self_attn.q_proj.weight', [H * Dh, D]), w('self_attn.k_proj.weight', [Hkv * Dh, D]), w('self_attn.v_proj.weight', [Hkv * Dh, D])], `${p}qkv`),
      o: placeLinear(arena, [w('self_attn.o_proj.weight', [D, H * Dh])], `${p}o_proj`),
      gateUp: placeLinear(arena, [w('mlp.gate_proj.weight', [F, D]), w('mlp.up_proj.weight', [F, D])], `${p}gate_up`),
      down: placeLinear(arena, [w('mlp.down_proj.weight', [D, F])], `${p}down_proj`),
      qkvBias: extras.attentionBias ? arena.put(concat([w('self_attn.q_proj.bias', [H * Dh]), w('self_attn.k_proj.bias', [Hkv * Dh]), w('self_attn.v_proj.bias', [Hkv * Dh])]), `${p}qkv_bias`) : null,
      qNorm: extras.qkNorm ? arena.put(dense(w('self_attn.q_norm.weight', [Dh])), `${p}q_norm`) : null,
      kNorm: extras.qkNorm ? arena.put(dense(w('self_attn.k_norm.weight', [Dh])), `${p}k_norm`) : null,
    });
    yield;
  }
  const head = c.tieWordEmbeddings && !model.weights.has('lm_head.weight') ? embed : get(model, 'lm_head.weight', [V, D]);
  // A stored embedding stays in its blocks (rows are dequantized as they are looked up); a tied LM head reads the same region.
  const embedOff = embed.stored ? arena.alloc(embed.stored.byteLength, 'embed_tokens') : arena.put(embed.data, 'embed_tokens');
  if (embed.stored) embed.stored.copyTo(arena.u8(embedOff, embed.stored.byteLength));
  return {
    embed: embedOff,
    embedType: embed.stored?.type ?? 0,
    layers,
    finalNorm: arena.put(dense(get(model, 'model.norm.weight', [D])), 'model.norm'),
    lmHead: placeLinear(arena, [head], 'lm_head', embed.stored ? new Map([[embed, embedOff]]) : undefined),
  };
}

function concat(parts: readonly HostTensor[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, t) => n + t.shape[0]!, 0)); // 1-D biases
  let at = 0;
  for (const t of parts) {
    out.set(dense(t), at);
    at += t.shape[0]!;
  }
  return out;
}

/** Bytes placeWeights will take (to size the arena up front). */
export function weightBytes(model: WeightSource): number {
  const c = model.config;
  const floats = (t: HostTensor) => t.shape.reduce((a, b) => a * b, 1);
  // stored tensors as their bytes (the largest case: every linear weight kept), the rest as float32
  let bytes = 0;
  for (const t of model.weights.values()) bytes += t.stored && t.shape.length === 2 ? t.stored.byteLength : 4 * floats(t);
  const embed = model.weights.get('model.embed_tokens.weight');
  if (c.tieWordEmbeddings && !model.weights.has('lm_head.weight') && !(embed && keepsRows([embed]))) bytes += 4 * c.vocabSize * c.hiddenSize;
  // a layer whose parts mix kept and float32 types is widened: count float32 for any layer not uniformly kept
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    for (const group of [['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'], ['self_attn.o_proj'], ['mlp.gate_proj', 'mlp.up_proj'], ['mlp.down_proj']]) {
      const parts = group.map((n) => model.weights.get(`${p}${n}.weight`)).filter((t): t is HostTensor => t !== undefined);
      if (!keepsRows(parts)) for (const t of parts) if (t.stored) bytes += 4 * floats(t) - t.stored.byteLength;
    }
  }
  // + panel padding (under 8 columns × K for each of the 4 packed matrices a layer and the LM head)
  // and 64-byte alignment of every region (6 a layer, 3 more)
  const maxK = Math.max(c.hiddenSize, c.intermediateSize, c.numHeads * c.headDim);
  return bytes + 4 * 7 * maxK * (4 * c.numLayers + 1) + 64 * (8 * c.numLayers + 3);
}
