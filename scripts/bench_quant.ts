/**
 * Stored-format weights against the float32 path, on synthetic llama GGUFs (byte vocabulary):
 * decode tok/s at batch 1 / 8 / 32 (16-token prompts, as `ds bench serve --offline` runs them)
 * and prompt tok/s (one 512-token prompt), for F32, F16, Q8_0 and Q4_K_M files of the same
 * weights (quantized by `ds quantize`), and with --llama-cpp llama.cpp's batch-1 figures on the
 * same files (node-llama-cpp's prebuilt binary). Not a test: a measurement.
 *
 * Rates are tokens per second of this process's CPU time (user + system, every thread), so that
 * a machine shared with other work measures what an idle one would; with --wall, per second of
 * wall time.
 *
 *   node --import ./bin/register.js scripts/bench_quant.ts [--sizes 25m,110m] [--threads 1] [--tokens 32] [--llama-cpp]
 *
 * On a shared machine use 1 thread: llama.cpp's spinning thread pool collapses when its threads
 * are descheduled (0.7 vs 90 tok/s at 2 threads vs 1 on this 2-core box under load).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchModelConfig, writeRandomGguf } from '../src/inference/bench/random_model.ts';
import { LLMEngine } from '../src/inference/engine/llm_engine.ts';
import { loadGguf } from '../src/inference/loaders/gguf/load.ts';
import { quantizeGgufFile, type QuantPreset } from '../src/inference/loaders/gguf/quantize.ts';
import type { LoadedModel } from '../src/inference/loaders/types.ts';
import { makeSamplingParams } from '../src/inference/sampler/params.ts';
import { formatTable } from '../src/cli/table.ts';

const { values: args } = parseArgs({ options: { sizes: { type: 'string', default: '25m,110m' }, threads: { type: 'string', default: '1' }, tokens: { type: 'string', default: '32' }, 'llama-cpp': { type: 'boolean', default: false }, wall: { type: 'boolean', default: false }, presets: { type: 'string', default: 'f32,f16,q8_0,q4_k_m' } } });
const threads = Number(args.threads);
const newTokens = Number(args.tokens);
const SIZES = {
  '25m': benchModelConfig({ hiddenSize: 512, numLayers: 8, numHeads: 8, numKvHeads: 8, headDim: 64, intermediateSize: 1536 }),
  '110m': benchModelConfig({ hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, intermediateSize: 3072 }),
} as const;

/** Seconds since `t0` (from clock()): CPU time of the process, or wall time with --wall. */
const clock = () => (args.wall ? performance.now() / 1000 : (process.cpuUsage().user + process.cpuUsage().system) / 1e6);

/** Decode tok/s at `batch`: requests of 16 prompt tokens, timed from when every one has its first token (runDecode's protocol). */
function runDecode(model: LoadedModel, batch: number): number {
  const c = model.config;
  const maxModelLen = 16 + newTokens;
  const kvCacheMemory = (batch + 1) * (maxModelLen + 16) * 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
  const engine = new LLMEngine(model, { maxNumSeqs: batch, maxModelLen, kvCacheMemory, enablePrefixCaching: false, threads });
  const params = makeSamplingParams({ temperature: 0, ignore_eos: true, max_tokens: newTokens });
  for (let b = 0; b < batch; b++) engine.addRequest(`d${b}`, Array.from({ length: 16 }, (_, i) => (b * 31 + i * 7) % 256), params);
  const produced = new Map<string, number>();
  while (produced.size < batch) for (const o of engine.step()) produced.set(o.requestId, o.outputs[0]!.tokenIds.length);
  const before = [...produced.values()].reduce((a, b) => a + b, 0);
  const t0 = clock();
  while (engine.hasUnfinished()) for (const o of engine.step()) produced.set(o.requestId, o.outputs[0]!.tokenIds.length);
  const s = clock() - t0;
  engine.dispose();
  return ([...produced.values()].reduce((a, b) => a + b, 0) - before) / s;
}

/** Prompt tok/s: one prompt of `len` tokens through the engine (chunked by its token budget), to its first token. */
function runPrompt(model: LoadedModel, len: number): number {
  const engine = new LLMEngine(model, { maxNumSeqs: 1, maxModelLen: len + 16, kvCacheMemory: 2 * (len + 32) * 2 * model.config.numLayers * model.config.numKvHeads * model.config.headDim * 4, enablePrefixCaching: false, threads, maxNumBatchedTokens: len });
  engine.addRequest('p', Array.from({ length: len }, (_, i) => (i * 7) % 256), makeSamplingParams({ temperature: 0, ignore_eos: true, max_tokens: 1 }));
  const t0 = clock();
  while (engine.hasUnfinished()) engine.step();
  const s = clock() - t0;
  engine.dispose();
  return len / s;
}

async function llamaCpp(path: string): Promise<{ decode: number; prompt: number }> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path });
  const ctx = await model.createContext({ contextSize: 1024, threads, batchSize: 512 });
  const seq = ctx.getSequence();
  const prompt = Array.from({ length: 512 }, (_, i) => (i * 7) % 256) as never[];
  let t0 = clock();
  await seq.controlledEvaluate(prompt);
  const promptTps = 512 / (clock() - t0);
  await seq.eraseContextTokenRanges([{ start: 0, end: 512 }]);
  await seq.controlledEvaluate(prompt.slice(0, 16));
  t0 = clock();
  for (let i = 0; i < newTokens; i++) await seq.controlledEvaluate([(i * 13) % 256] as never);
  const decode = newTokens / (clock() - t0);
  await ctx.dispose();
  await model.dispose();
  await llama.dispose();
  return { decode, prompt: promptTps };
}

const dir = mkdtempSync(join(tmpdir(), 'ds-bench-quant-'));
try {
  for (const size of args.sizes.split(',') as (keyof typeof SIZES)[]) {
    const config = SIZES[size];
    const f32 = join(dir, `${size}-f32.gguf`);
    writeRandomGguf(f32, config, 0);
    const rows: (string | number)[][] = [];
    let base: number[] | null = null;
    for (const preset of args.presets.split(',') as QuantPreset[]) {
      const path = preset === 'f32' ? f32 : join(dir, `${size}-${preset}.gguf`);
      if (preset !== 'f32') quantizeGgufFile(f32, path, preset);
      const rss = JSON.parse(spawnSync(process.execPath, ['--import', './bin/register.js', 'scripts/peak_rss.ts', path], { encoding: 'utf8' }).stdout) as { file: number; before: number; peak: number };
      const model = loadGguf(path);
      const decode = [1, 8, 32].map((b) => runDecode(model, b));
      const prompt = runPrompt(model, 512);
      const figures = [...decode, prompt];
      base ??= figures;
      const cpp = args['llama-cpp'] ? await llamaCpp(path) : null;
      const mib = statSync(path).size / 2 ** 20;
      rows.push([size, preset, mib.toFixed(1), `${((rss.peak - rss.before) / 2 ** 20).toFixed(0)} (${((rss.peak - rss.before) / rss.file).toFixed(2)}×)`, ...figures.map((f, i) => `${f.toFixed(1)} (${(f / base![i]!).toFixed(2)}×)`),
        cpp ? `${cpp.decode.toFixed(1)} (${(decode[0]! / cpp.decode).toFixed(2)}×)` : '-', cpp ? `${cpp.prompt.toFixed(1)} (${(prompt / cpp.prompt).toFixed(2)}×)` : '-']);
      process.stderr.write(`${size} ${preset} done\n`);
    }
    process.stdout.write(`${formatTable(['model', 'type', 'file MiB', 'peak RSS load+place MiB (× file)', 'decode b1 tok/s (vs f32)', 'b8', 'b32', 'prompt 512 tok/s', 'llama.cpp b1 (ds/cpp)', 'llama.cpp prompt (ds/cpp)'], rows)}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
