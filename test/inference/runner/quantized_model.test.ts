/**
 * A model kept in its stored format: GGUFs quantized by `ds quantize` presets, run by the model
 * runner, against the float64 reference forward of the same (dequantized) weights. Quantized
 * types read 8-bit activations, so their logits carry that rounding; F16 / BF16 read float32.
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
import { weightBytes } from '../../../src/inference/runner/weights.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { argmax, referenceForward } from '../../helpers/reference_llama.ts';

const config = tinyConfig({ hiddenSize: 256, intermediateSize: 512, numHeads: 4, numKvHeads: 2, headDim: 64, numLayers: 2, ropeStyle: 'adjacent', maxPositionEmbeddings: 64 });

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.length));
  return out;
}

/** The F32 GGUF of a random model. */
function f32Gguf(): Uint8Array {
  const v = tinyBpeVocab(config.vocabSize);
  const md = modelConfigToGguf(config);
  for (const [k, kv] of gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 })) md.set(k, kv);
  const tensors = [...randomWeights(config, 9)].map(([name, t]) => ({ name: hfToGgufName(name)!, shape: t.shape, data: t.data, type: 'F32' as const }));
  return concat(encodeGguf(md, tensors));
}

const source = f32Gguf();
const prompt = [256, 104, 101, 108, 108, 111, 32, 119, 111];

describe.each([
  ['f16', 1e-4], ['bf16', 1e-4], ['q8_0', 0.015], ['q4_0', 0.015], ['q4_1', 0.015], ['q5_0', 0.015], ['q5_1', 0.015], ['q2_k', 0.015], ['q3_k_m', 0.015], ['q4_k_m', 0.015], ['q5_k_m', 0.015], ['q6_k', 0.015],
] as const)('a %s GGUF kept in its stored format', (preset: QuantPreset, tol) => {
  const { chunks, report } = quantizeGguf(parseGguf(source, 'f32.gguf'), preset);
  const m = loadGgufBytes(concat(chunks), `${preset}.gguf`);

  it('gives the logits of its dequantized weights at every position, and the same top token', () => {
    const want = referenceForward(m, prompt);
    const runner = new ModelRunner(m, { numBlocks: 4, blockSize: 16 });
    const V = config.vocabSize;
    const logits = runner.execute({
      tokenIds: Int32Array.from(prompt), positions: Int32Array.from(prompt, (_, i) => i), slotMapping: Int32Array.from(prompt, (_, i) => i),
      seqs: [{ queryStart: 0, queryLen: prompt.length, contextLen: prompt.length, blockTable: Int32Array.from([0]) }],
      sampleRows: Int32Array.from(prompt, (_, i) => i),
    });
    runner.dispose();
    let worst = 0;
    let spread = 0;
    want.forEach((row, p) => {
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(logits[p * V + v]! - row[v]!));
      spread = Math.max(spread, Math.max(...row) - Math.min(...row));
    });
    expect(worst / spread, `worst ${worst} of a logit spread of ${spread}`).toBeLessThan(tol);
    // the top token agrees wherever the reference's margin over the runner-up is beyond that error
    want.forEach((row, p) => {
      const top = argmax(row);
      const second = Math.max(...row.filter((_, v) => v !== top));
      if (row[top]! - second > 2 * worst) expect(argmax(logits.subarray(p * V, (p + 1) * V)), `top token at position ${p}`).toBe(top);
    });
  });

  it('holds its weights in about the bytes of its file, not as float32', () => {
    const f32 = 4 * [...m.weights.values()].reduce((n, t) => n + t.data.length, 0);
    const file = report.outBytes;
    expect(weightBytes(m)).toBeLessThan(file * 1.1 + 200_000);
    if (preset !== 'f16' && preset !== 'bf16') expect(weightBytes(m)).toBeLessThan(f32 * (preset === 'q8_0' || preset === 'q6_k' ? 0.3 : 0.22));
    for (const [name, t] of m.weights) if (t.shape.length === 2) expect(t.stored, name).toBeDefined();
  });
});

describe('a Q4_K_M model on 2 runner threads', () => {
  it('gives the logits of one thread for a batch split by sequence', () => {
    const m = loadGgufBytes(concat(quantizeGguf(parseGguf(source, 'f32.gguf'), 'q4_k_m').chunks), 'q4km.gguf');
    // 8 one-token sequences at positions 0: enough rows per thread for the runner to split them
    const n = 8;
    const batch = {
      tokenIds: Int32Array.from({ length: n }, (_, i) => 100 + i), positions: new Int32Array(n), slotMapping: Int32Array.from({ length: n }, (_, i) => 16 * i),
      seqs: Array.from({ length: n }, (_, i) => ({ queryStart: i, queryLen: 1, contextLen: 1, blockTable: Int32Array.from([i]) })),
      sampleRows: Int32Array.from({ length: n }, (_, i) => i),
    };
    const one = new ModelRunner(m, { numBlocks: 8, blockSize: 16 });
    const two = new ModelRunner(m, { numBlocks: 8, blockSize: 16, threads: 2 });
    const want = one.execute(batch);
    const got = two.execute(batch);
    one.dispose();
    two.dispose();
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBe(want[i]);
  });

  it.each([2, 3])('gives the logits of one thread for one sequence with every product split by rows over %i threads', (threads) => {
    const m = loadGgufBytes(concat(quantizeGguf(parseGguf(source, 'f32.gguf'), 'q4_k_m').chunks), 'q4km.gguf');
    // on 3 threads a chunk straddles q|k|v's parts (Q4_K | Q4_K | Q6_K): 48-row chunks of 256 + 128 + 128 rows
    const one = new ModelRunner(m, { numBlocks: 4, blockSize: 16 });
    const rows = new ModelRunner(m, { numBlocks: 4, blockSize: 16, threads, rowSplitMinBytes: 0 });
    for (const [start, len] of [[0, 8], [8, 1]] as const) {
      const ids = prompt.slice(start, start + len);
      const step = {
        tokenIds: Int32Array.from(ids), positions: Int32Array.from(ids, (_, i) => start + i), slotMapping: Int32Array.from(ids, (_, i) => start + i),
        seqs: [{ queryStart: 0, queryLen: len, contextLen: start + len, blockTable: Int32Array.from([0]) }],
        sampleRows: Int32Array.from(ids, (_, i) => i), // every row: the LM head at 8 rows and at 1
      };
      expect(rows.execute(step)).toEqual(one.execute(step));
    }
    one.dispose();
    rows.dispose();
  });
});
