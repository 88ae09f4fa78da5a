/**
 * GGUF tensor names ↔ HF names (llama, qwen2, qwen3 share them). A suffix (.weight, .bias) is kept;
 * whether a model has that tensor is for check_weights.ts to say.
 */
const GLOBAL: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};
const PER_LAYER: Record<string, string> = {
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
  attn_norm: 'input_layernorm',
  ffn_norm: 'post_attention_layernorm',
  attn_qkv: 'self_attn.qkv_proj', // phi3: q, k, v fused (fused.ts splits it)
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
};
const HF_GLOBAL = Object.fromEntries(Object.entries(GLOBAL).map(([g, h]) => [h, g]));
const HF_PER_LAYER = Object.fromEntries(Object.entries(PER_LAYER).map(([g, h]) => [h, g]));

/** HF name of a GGUF tensor, or null for a name this project does not know. */
export function ggufToHfName(name: string): string | null {
  if (name in GLOBAL) return GLOBAL[name]!;
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  const part = m ? PER_LAYER[m[2]!] : undefined;
  return m && part ? `model.layers.${m[1]}.${part}.${m[3]}` : null;
}

/** GGUF name of an HF tensor, or null for a name GGUF llama has no slot for. */
export function hfToGgufName(name: string): string | null {
  if (name in HF_GLOBAL) return HF_GLOBAL[name]!;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  const part = m ? HF_PER_LAYER[m[2]!] : undefined;
  return m && part ? `blk.${m[1]}.${part}.${m[3]}` : null;
}
