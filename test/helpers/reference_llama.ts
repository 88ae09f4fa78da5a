/**
 * An independent float64 reference forward of a Llama decoder, in plain TypeScript (no tfjs),
 * used as the oracle for loaders and the model runner. It reads the HF-named weights of a
 * LoadedModel and follows the config's ropeStyle and extras (q/k/v biases, q/k norms, rope
 * scaling), each written out here again rather than imported. Deliberately naive: clarity over speed.
 */
import type { ModelConfig } from '../../src/models/types.ts';
import type { HostTensor } from '../../src/inference/loaders/types.ts';

type Vec = Float64Array;

export interface ReferenceModel {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
}

function w(m: ReferenceModel, name: string): HostTensor {
  const t = m.weights.get(name);
  if (!t) throw new Error(`reference_llama: weight ${name} is missing`);
  return t;
}

/** y = W x for W [out, in]. */
function matvec(W: HostTensor, x: Vec): Vec {
  const [out, inp] = W.shape as [number, number];
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    const row = o * inp;
    for (let i = 0; i < inp; i++) s += W.data[row + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Vec, g: HostTensor, eps: number): Vec {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * g.data[i]!);
}

/** Angle per position of pair i (HF's _compute_default_rope_parameters and _compute_llama3_parameters, in float64). */
function invFreq(c: ModelConfig, i: number): number {
  const f = Math.pow(c.ropeTheta, (-2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (!s) return f;
  if (s.type === 'linear') return f / s.factor;
  if (s.type === 'freqs') return f / s.divisors[i]!;
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  const wavelen = (2 * Math.PI) / f;
  if (wavelen > lowWavelen) return f / s.factor;
  if (wavelen < highWavelen) return f;
  const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return (1 - smooth) * (f / s.factor) + smooth * f;
}

/** Rotates each head of `x` ([heads * Dh]) in place for position `pos`. */
function rope(x: Vec, heads: number, pos: number, c: ModelConfig): void {
  const dh = c.headDim;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < dh / 2; i++) {
      const angle = pos * invFreq(c, i);
      const [a, b] = c.ropeStyle === 'half' ? [h * dh + i, h * dh + i + dh / 2] : [h * dh + 2 * i, h * dh + 2 * i + 1];
      const x0 = x[a]!;
      const x1 = x[b]!;
      x[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
      x[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
    }
  }
}

/** y = W x (+ b, when the model has that bias). */
function project(m: ReferenceModel, name: string, x: Vec): Vec {
  const y = matvec(w(m, `${name}.weight`), x);
  const b = m.weights.get(`${name}.bias`);
  if (m.config.attentionBias) y.forEach((v, i) => (y[i] = v + b!.data[i]!));
  return y;
}

/** RMSNorm of each head of `x` ([heads * Dh]) with one weight [Dh] (Qwen3's q_norm / k_norm). */
function headNorm(x: Vec, heads: number, g: HostTensor, eps: number): Vec {
  const dh = g.shape[0]!;
  const out = new Float64Array(x.length);
  for (let h = 0; h < heads; h++) out.set(rmsNorm(x.subarray(h * dh, (h + 1) * dh), g, eps), h * dh);
  return out;
}

/** Logits [T][V] for every position of `ids` (causal attention, positions 0..T-1). */
export function referenceForward(m: ReferenceModel, ids: readonly number[]): Float64Array[] {
  const c = m.config;
  const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: Dh } = c;
  const emb = w(m, 'model.embed_tokens.weight');
  let xs: Vec[] = ids.map((id) => Float64Array.from(emb.data.subarray(id * D, (id + 1) * D)));
  const T = ids.length;
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const qs: Vec[] = [];
    const ks: Vec[] = [];
    const vs: Vec[] = [];
    for (let t = 0; t < T; t++) {
      const h = rmsNorm(xs[t]!, w(m, `${p}input_layernorm.weight`), c.rmsNormEps);
      let q = project(m, `${p}self_attn.q_proj`, h); // [H * Dh]
      let k = project(m, `${p}self_attn.k_proj`, h); // [KV * Dh]
      if (c.qkNorm) {
        q = headNorm(q, H, w(m, `${p}self_attn.q_norm.weight`), c.rmsNormEps);
        k = headNorm(k, KV, w(m, `${p}self_attn.k_norm.weight`), c.rmsNormEps);
      }
      rope(q, H, t, c);
      rope(k, KV, t, c);
      qs.push(q);
      ks.push(k);
      vs.push(project(m, `${p}self_attn.v_proj`, h));
    }
    const next: Vec[] = [];
    for (let t = 0; t < T; t++) {
      const attn = new Float64Array(H * Dh);
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / KV)); // grouped-query: H / KV query heads share a kv head
        const scores = new Float64Array(t + 1);
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += qs[t]![h * Dh + d]! * ks[s]![kvh * Dh + d]!;
          scores[s] = dot / Math.sqrt(Dh);
        }
        const max = Math.max(...scores);
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += (scores[s] = Math.exp(scores[s]! - max));
        for (let s = 0; s <= t; s++) {
          for (let d = 0; d < Dh; d++) attn[h * Dh + d]! += (scores[s]! / sum) * vs[s]![kvh * Dh + d]!;
        }
      }
      const o = matvec(w(m, `${p}self_attn.o_proj.weight`), attn);
      const x1 = xs[t]!.map((v, i) => v + o[i]!);
      const h2 = rmsNorm(x1, w(m, `${p}post_attention_layernorm.weight`), c.rmsNormEps);
      const gate = matvec(w(m, `${p}mlp.gate_proj.weight`), h2);
      const up = matvec(w(m, `${p}mlp.up_proj.weight`), h2);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!); // SwiGLU: silu(gate) * up
      const down = matvec(w(m, `${p}mlp.down_proj.weight`), act);
      next.push(x1.map((v, i) => v + down[i]!));
    }
    xs = next;
  }
  const head = c.tieWordEmbeddings ? emb : w(m, 'lm_head.weight');
  return xs.map((x) => matvec(head, rmsNorm(x, w(m, 'model.norm.weight'), c.rmsNormEps)));
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Greedy decoding with the reference (recomputes the whole prefix each step). */
export function referenceGreedy(m: ReferenceModel, prompt: readonly number[], steps: number): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const logits = referenceForward(m, ids);
    const next = argmax(logits[logits.length - 1]!);
    out.push(next);
    ids.push(next);
  }
  return out;
}
