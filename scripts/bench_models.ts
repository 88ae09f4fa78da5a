/**
 * Writes the synthetic llama GGUFs of issue 13's side-by-side figures (random weights, byte-level
 * vocabulary plus fillers): about 27M (d 512, 8 layers) and 110M (d 768, 12 layers, GQA 12/4)
 * parameters, in F16, and Q8_0 / Q4_K_M quantized from the F16 file by `ds quantize`'s code.
 * Every product's input size is a multiple of 256, so Q4_K_M needs no fallback type.
 *   usage: npx tsx scripts/bench_models.ts [OUT_DIR]     (default .tmp/bench-models)
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { benchModelConfig, writeRandomGguf } from '../src/inference/bench/random_model.ts';
import { quantizeGgufFile } from '../src/inference/loaders/gguf/quantize.ts';

const out = process.argv[2] ?? '.tmp/bench-models';
mkdirSync(out, { recursive: true });
const shapes = {
  '27m': benchModelConfig({ hiddenSize: 512, numLayers: 8, numHeads: 8, numKvHeads: 8, headDim: 64, intermediateSize: 1536, vocabSize: 258 }),
  '110m': benchModelConfig({ hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, intermediateSize: 3072, vocabSize: 4096 }),
};
for (const [name, config] of Object.entries(shapes)) {
  const f16 = join(out, `${name}-f16.gguf`);
  if (!existsSync(f16)) writeRandomGguf(f16, config, 1, 'F16');
  for (const preset of ['q8_0', 'q4_k_m'] as const) {
    const q = join(out, `${name}-${preset}.gguf`);
    if (!existsSync(q)) quantizeGgufFile(f16, q, preset);
  }
  process.stdout.write(`${name}: ${f16} and its q8_0, q4_k_m\n`);
}
