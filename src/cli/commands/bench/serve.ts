/**
 * `ds bench serve --url URL | --model M`: the online benchmark (serve_online.ts) against a
 * running server, or one started here on M.
 * `ds bench serve --offline [--model M]`: continuous vs static batching on a seeded mixed-length
 * workload (same maximum batch), the KV cache's waste, and decode tok/s at batch 1 / 8 / 32
 * beside llama.cpp's figures for the same shape. Without --model: a random model of llama.cpp's
 * reference shape (d 256, 4 layers, 8 heads, ff 688, vocab 258, f32), written as a GGUF.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { InputError } from '../../../errors.ts';
import { benchModelConfig, writeRandomGguf } from '../../../inference/bench/random_model.ts';
import { runDecode, runPrefill, runThroughput, type DecodeResult, type ThroughputResult } from '../../../inference/bench/serve_bench.ts';
import { makeWorkload } from '../../../inference/bench/workload.ts';
import { loadModel } from '../../../inference/loaders/index.ts';
import type { LoadedModel } from '../../../inference/loaders/types.ts';
import { chooseDevice, DEVICES } from '../../../inference/runner/device.ts';
import { modelsDir, resolveModelPath } from '../../../inference/server/models_dir.ts';
import { log } from '../../../runtime/logger.ts';
import { formatTable } from '../../table.ts';
import { deviceDecodeBench } from './serve_device.ts';
import { ONLINE_DEFAULTS, onlineOptions, serveOnlineHandler, type ServeOnlineArgs } from './serve_online.ts';

interface Args extends Omit<ServeOnlineArgs, 'num-prompts' | 'max-num-seqs'> {
  offline: boolean;
  model?: string;
  'num-prompts'?: number;
  seed: number;
  'max-num-seqs'?: number;
  'kv-cache-memory': string;
  'block-size': number;
  'decode-tokens': number;
  batches: string;
  'prompt-tokens': number;
  'decode-only': boolean;
  threads: number;
  device: string;
  json: boolean;
}

/** llama.cpp's decode tok/s on the reference shape, measured on this machine (batch → tok/s). */
const LLAMA_CPP_DECODE: Readonly<Record<number, number>> = { 1: 2304, 8: 4707, 32: 5452 };

function withModel<T>(path: string | undefined, fn: (m: LoadedModel) => T): T {
  if (path) return fn(loadModel(resolveModelPath(path, modelsDir(process.env.DS_MODELS))));
  const dir = mkdtempSync(join(tmpdir(), 'ds-bench-serve-'));
  try {
    const file = join(dir, 'random-llama.gguf');
    writeRandomGguf(file, benchModelConfig(), 0);
    return fn(loadModel(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const serveBenchCommand: CommandModule<object, Args> = {
  command: 'serve',
  describe: 'serving benchmark: --url/--model (online: TTFT, TPOT, ITL, latency) or --offline (continuous vs static, KV waste, decode tok/s)',
  builder: (y) =>
    onlineOptions(y)
      .option('offline', { type: 'boolean', default: false, describe: 'run the engine in-process: continuous vs static batching, KV waste, decode tok/s' })
      .option('model', { type: 'string', describe: 'model (dir, .gguf or name); offline default: random weights of llama.cpp\'s reference shape' })
      .option('num-prompts', { type: 'number', describe: 'requests (default: 96 offline, 100 online)' })
      .option('seed', { type: 'number', default: 0 })
      .option('max-num-seqs', { type: 'number', describe: 'most sequences in a batch (default: 32 offline, 64 online)' })
      .option('kv-cache-memory', { type: 'string', default: '256MiB' })
      .option('block-size', { type: 'number', default: 16, describe: 'tokens per KV block (the waste is about half a block per sequence)' })
      .option('threads', { type: 'number', default: availableParallelism(), describe: 'runner threads (llama.cpp\'s reference figures used 2)' })
      .option('device', { type: 'string', choices: DEVICES, default: 'cpu', describe: 'offline: webgpu or auto (on a GPU) measures decode tok/s on that device beside the cpu runner' })
      .option('decode-tokens', { type: 'number', default: 128, describe: 'new tokens per request in the decode figures' })
      .option('batches', { type: 'string', default: '1,8,32', describe: 'offline: the batch sizes of the decode figures' })
      .option('prompt-tokens', { type: 'number', default: 512, describe: 'offline: prompt tok/s of one prompt this long at batch 1 (llama-bench -p); 0: skip' })
      .option('decode-only', { type: 'boolean', default: false, describe: 'offline: only the decode and prompt figures (skip continuous vs static batching)' })
      .option('json', { type: 'boolean', default: false }) as never,
  handler: async (argv) => {
    if (!argv.offline && argv.device !== 'cpu') {
      throw new InputError(`bench serve: --device ${argv.device} applies to --offline; for the online benchmark start \`ds serve --device ${argv.device}\` and pass its --url`);
    }
    if (!argv.offline) {
      const offlineOnly = ['batches', 'prompt-tokens', 'decode-only', 'decode-tokens'].filter((f) => process.argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)));
      if (offlineOnly.length) throw new InputError(`bench serve: ${offlineOnly.map((f) => `--${f}`).join(', ')} belong${offlineOnly.length === 1 ? 's' : ''} to --offline`);
      if (!argv.url && !argv.model) throw new InputError('bench serve: give --url of a running server or --model to start one (online), or --offline');
      await serveOnlineHandler({ ...argv, 'num-prompts': argv['num-prompts'] ?? ONLINE_DEFAULTS['num-prompts'], 'max-num-seqs': argv['max-num-seqs'] ?? ONLINE_DEFAULTS['max-num-seqs'] });
      return;
    }
    // The online benchmark's flags mean nothing in-process: refuse them rather than ignore them.
    const onlineOnly = ['url', 'served-model-name', 'api-key', 'tokenizer', 'request-rate', 'max-concurrency', 'input-len', 'output-len', 'dataset', 'result-file', 'compare-offline'];
    const given = onlineOnly.filter((f) => process.argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)));
    if (given.length) throw new InputError(`bench serve --offline: ${given.map((f) => `--${f}`).join(', ')} belong${given.length === 1 ? 's' : ''} to the online benchmark (drop --offline, or drop ${given.length === 1 ? 'it' : 'them'})`);
    if (argv.device !== 'cpu') {
      const device = await chooseDevice(argv.device);
      if (device.device === 'webgpu') {
        log.info('bench serve --offline on webgpu: the decode figures, beside the cpu runner (the batching comparison runs with --device cpu)');
        return deviceDecodeBench(argv, device);
      }
      log.info(`bench serve: ${device.reason}`);
    }
    const numPrompts = argv['num-prompts'] ?? 96;
    const maxNumSeqs = argv['max-num-seqs'] ?? 32;
    const batches = argv.batches.split(',').map((b) => Number(b.trim()));
    if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new InputError(`bench serve --batches ${argv.batches}: give positive integers separated by commas, e.g. 1,8,32`);
    if (!Number.isInteger(argv['prompt-tokens']) || argv['prompt-tokens'] < 0) throw new InputError(`bench serve --prompt-tokens ${argv['prompt-tokens']}: give a token count (0: skip)`);
    const result = withModel(argv.model, (model) => {
      let batching: { continuous: ThroughputResult; static: ThroughputResult; speedup: number } | null = null;
      if (!argv['decode-only']) {
        const work = makeWorkload({ numPrompts, seed: argv.seed, vocabSize: model.config.vocabSize, maxOutput: Math.min(1024, model.config.maxPositionEmbeddings - 256) });
        const shape = { maxNumSeqs, kvCacheMemory: argv['kv-cache-memory'], blockSize: argv['block-size'], threads: argv.threads };
        log.info(`bench serve: ${work.length} requests, ${work.reduce((n, r) => n + r.promptTokenIds.length, 0)} prompt tokens, ${work.reduce((n, r) => n + r.maxTokens, 0)} output tokens`);
        const continuous = runThroughput(model, work, 'continuous', shape);
        const stat = runThroughput(model, work, 'static', shape);
        batching = { continuous, static: stat, speedup: continuous.outputTokPerS / stat.outputTokPerS };
      }
      const decode: (DecodeResult & { llamaCpp: number | null; ratio: number | null })[] = batches.map((b) => {
        const d = runDecode(model, b, 16, argv['decode-tokens'], 0, argv.threads);
        const ref = argv.model ? null : (LLAMA_CPP_DECODE[b] ?? null);
        return { ...d, llamaCpp: ref, ratio: ref ? d.tokPerS / ref : null };
      });
      const prompt = argv['prompt-tokens'] > 0 ? runPrefill(model, argv['prompt-tokens'], argv.threads) : null;
      return { model: argv.model ?? 'random d256 L4 H8 ff688 V258 f32', threads: argv.threads, ...batching, decode, prompt };
    });
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    const row = (r: ThroughputResult) => [r.batching, r.outputTokens, r.computedTokens, r.seconds.toFixed(2), r.outputTokPerS.toFixed(1), r.steps, r.meanBatch.toFixed(1), pct(r.peakKvWaste), pct(r.kvWasteAtPeakUsage), pct(r.meanKvWaste)];
    if (result.continuous && result.static) {
      process.stdout.write(
        `${formatTable(['batching', 'out tokens', 'computed tokens', 's', 'out tok/s', 'steps', 'mean batch', 'peak KV waste', 'waste @ peak use', 'mean waste'], [row(result.continuous), row(result.static)])}\n` +
          `continuous / static throughput: ${result.speedup!.toFixed(2)}×\n\n`,
      );
    }
    process.stdout.write(`${formatTable(['batch', 'decode tok/s', 'llama.cpp tok/s', 'ratio'], result.decode.map((d) => [d.batch, d.tokPerS.toFixed(1), d.llamaCpp ?? '-', d.ratio === null ? '-' : `${d.ratio.toFixed(2)}×`]))}\n`);
    if (result.prompt) process.stdout.write(`prompt tok/s (${result.prompt.promptTokens} tokens, batch 1, ${argv.threads} threads): ${result.prompt.tokPerS.toFixed(1)}\n`);
  },
};
