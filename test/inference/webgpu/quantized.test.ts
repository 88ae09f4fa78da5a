/**
 * Stored-format weights on the WebGPU runner: GGUFs quantized by `ds quantize` (f16, q8_0,
 * q4_k_m: Q4_K with Q6_K where the preset puts it, q5_k_m: Q5_K with Q6_K), kept in their bytes
 * on the device and dequantized in the kernel (BF16 and Q4_0 run the same path: kernels.test.ts).
 *
 * Tolerances: the WGSL kernels dequantize exactly and multiply in float32, so against the
 * float64 reference of the dequantized weights |webgpu − ref| < 1e-3 (with logits spread ~10).
 * The wasm runner quantizes activations to 8 bits for the quantized types, so against it the bound is
 * the wasm runner's own (1.5% of the logit spread, quantized_model.test.ts). Greedy tokens are the
 * reference's.
 */
import { describe, expect, it } from 'vitest';
import { loadGgufBytes } from '../../../src/inference/loaders/gguf/load.ts';
import { modelConfigToGguf } from '../../../src/inference/loaders/gguf/hparams.ts';
import { hfToGgufName } from '../../../src/inference/loaders/gguf/names.ts';
import { quantizeGguf, type QuantPreset } from '../../../src/inference/loaders/gguf/quantize.ts';
import { parseGguf } from '../../../src/inference/loaders/gguf/reader.ts';
import { gpt2TokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import { encodeGguf } from '../../../src/inference/loaders/gguf/writer.ts';
import { ModelRunner } from '../../../src/inference/runner/index.ts';
import { WebGpuRunner } from '../../../src/inference/runner/webgpu/webgpu_runner.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { argmax, referenceForward, referenceGreedy } from '../../helpers/reference_llama.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

const config = tinyConfig({ hiddenSize: 256, intermediateSize: 256, numHeads: 4, numKvHeads: 2, headDim: 64, numLayers: 1, ropeStyle: 'adjacent', maxPositionEmbeddings: 64 });

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.length));
  return out;
}

function f32Gguf(): Uint8Array {
  const v = tinyBpeVocab(config.vocabSize);
  const md = modelConfigToGguf(config);
  for (const [k, kv] of gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 })) md.set(k, kv);
  const tensors = [...randomWeights(config, 9)].map(([name, t]) => ({ name: hfToGgufName(name)!, shape: t.shape, data: t.data, type: 'F32' as const }));
  return concat(encodeGguf(md, tensors));
}

const prompt = [256, 104, 101, 108, 108, 111, 32, 119, 111];
const N = prompt.length;
const batch = {
  tokenIds: Int32Array.from(prompt), positions: Int32Array.from(prompt, (_, i) => i), slotMapping: Int32Array.from(prompt, (_, i) => 16 + i),
  seqs: [{ queryStart: 0, queryLen: N, contextLen: N, blockTable: Int32Array.from([1]) }],
  sampleRows: Int32Array.from(prompt, (_, i) => i),
};

describe.skipIf(gpuSkipReason !== null)(gpuTitle('WebGpuRunner on stored-format weights'), () => {
  const source = gpuSkipReason === null ? f32Gguf() : new Uint8Array(0);

  it.each(['f16', 'q8_0', 'q4_k_m', 'q5_k_m'] as const)('%s: logits of the dequantized weights at every position; the wasm runner\'s within its 8-bit activation error; the reference\'s greedy tokens', async (preset: QuantPreset) => {
    const { chunks } = quantizeGguf(parseGguf(source, 'f32.gguf'), preset);
    const m = loadGgufBytes(concat(chunks), `${preset}.gguf`);
    const types = new Set([...m.weights.values()].filter((t) => t.shape.length === 2).map((t) => t.stored?.type));
    if (preset === 'q4_k_m') expect([...types].sort()).toEqual([12, 14]); // Q4_K and Q6_K both exercised
    if (preset === 'q5_k_m') expect([...types].sort()).toEqual([13, 14]); // Q5_K and Q6_K
    const gpu = await WebGpuRunner.create(m, { numBlocks: 4, blockSize: 16, allowSoftware: true, maxNumBatchedTokens: 16 });
    const cpu = new ModelRunner(m, { numBlocks: 4, blockSize: 16 });
    try {
      // the weights stay in their stored bytes on the device: well under float32
      const f32Bytes = 4 * [...m.weights.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
      expect(gpu.gpuBytes).toBeLessThan(f32Bytes * (preset.endsWith('16') ? 0.6 : 0.35));
      const got = gpu.execute(batch);
      const wasm = cpu.execute(batch);
      const want = referenceForward(m, prompt);
      const V = config.vocabSize;
      let toRef = 0;
      let toWasm = 0;
      let spread = 0;
      want.forEach((row, p) => {
        for (let v = 0; v < V; v++) {
          toRef = Math.max(toRef, Math.abs(got[p * V + v]! - row[v]!));
          toWasm = Math.max(toWasm, Math.abs(got[p * V + v]! - wasm[p * V + v]!));
        }
        spread = Math.max(spread, Math.max(...row) - Math.min(...row));
        expect(argmax(got.subarray(p * V, (p + 1) * V)), `top token at position ${p}`).toBe(argmax(row));
      });
      expect(toRef).toBeLessThan(1e-3);
      expect(toWasm / spread).toBeLessThan(preset.endsWith('16') ? 1e-4 : 0.015);
      // greedy decode, 4 tokens: the reference's tokens (the wasm runner's 8-bit activations may flip a near tie)
      const ids = [...prompt];
      for (let s = 0; s < 4; s++) {
        const p = ids.length - 1;
        const step = { tokenIds: Int32Array.of(ids[p]!), positions: Int32Array.of(p), slotMapping: Int32Array.of(16 + p), seqs: [{ queryStart: 0, queryLen: 1, contextLen: p + 1, blockTable: Int32Array.from([1]) }], sampleRows: Int32Array.of(0) };
        ids.push(argmax(gpu.execute(step)));
      }
      expect(ids.slice(prompt.length)).toEqual(referenceGreedy(m, prompt, 4));
    } finally {
      gpu.dispose();
      cpu.dispose();
    }
  }, 180_000); // lavapipe compiles each kernel with LLVM: slow on a loaded 2-core machine
});
