/**
 * `ds bench train --config C [--steps N] [--json]`: training tokens/s and model FLOPs utilization
 * (model FLOPs per second, PaLM's 6·N + attention accounting, over the matmul GFLOP/s measured in
 * the same run), with the layer tapes kept and with activation checkpointing (recompute).
 */
import type { CommandModule } from 'yargs';
import { initBackend } from '../../../runtime/backend/index.ts';
import { measureMatmulGflops } from '../../../runtime/backend/bench.ts';
import { loadConfig, modelConfigFromDs } from '../../../runtime/config/index.ts';
import { Engine } from '../../../runtime/engine/engine.ts';
import { FlatParams } from '../../../runtime/engine/flat_params.ts';
import { trainFlopsPerToken } from '../../../runtime/engine/flops.ts';
import { createOptimizer, baseLr } from '../../../runtime/optim/index.ts';
import { buildLlama } from '../../../models/llama.ts';
import { Rng } from '../../../data/rng.ts';
import { formatTable } from '../../table.ts';
import type { MicroBatch } from '../../../runtime/engine/executor.ts';

interface Args { config: string; steps: number; warmup: number; json: boolean }

export const trainBenchCommand: CommandModule<object, Args> = {
  command: 'train',
  describe: 'training tokens/s and MFU on one rank for a config (random tokens)',
  builder: (y) =>
    y
      .option('config', { type: 'string', default: 'configs/bench_reference.json5' })
      .option('steps', { type: 'number', default: 5 })
      .option('warmup', { type: 'number', default: 2 })
      .option('json', { type: 'boolean', default: false }) as never,
  handler: async (argv) => {
    const cfg = loadConfig(argv.config, { dpWorldSize: 1 });
    const info = await initBackend({ force: cfg.backend });
    const config = modelConfigFromDs(cfg, cfg.model?.vocab_size ?? 258, { bos: null, eos: null });
    const T = cfg.data?.seq_len ?? Math.min(128, config.maxPositionEmbeddings);
    const B = cfg.train_micro_batch_size_per_gpu;
    const rng = new Rng(cfg.seed);
    const batch = (): MicroBatch => {
      const ids = Int32Array.from({ length: B * T + 1 }, () => rng.int(config.vocabSize));
      return { batchSize: B, seqLen: T, input: ids.subarray(0, B * T), target: ids.subarray(1), mask: new Float32Array(B * T).fill(1) };
    };
    const matmul = await measureMatmulGflops(info.name, 1024, 1024, 1024);
    const flopsPerToken = trainFlopsPerToken(config, T);
    const rows = [];
    for (const recompute of [false, true]) {
      const model = buildLlama(config);
      const flat = FlatParams.forModel(model);
      flat.initialize(cfg.seed);
      const optimizer = createOptimizer(cfg.optimizer, flat.numel);
      const engine = new Engine(model, { gradAccumSteps: 1, gradientClipping: cfg.gradient_clipping, seed: cfg.seed, optimizer, lrAt: () => baseLr(cfg.optimizer), reducer: null, recompute }, flat);
      for (let i = 0; i < argv.warmup; i++) await engine.trainBatch(batch);
      const t0 = performance.now();
      const sums = { forwardMs: 0, backwardMs: 0, optimizerMs: 0 };
      for (let i = 0; i < argv.steps; i++) {
        const r = await engine.trainBatch(batch);
        sums.forwardMs += r.timings.forwardMs;
        sums.backwardMs += r.timings.backwardMs;
        sums.optimizerMs += r.timings.optimizerMs;
      }
      const sec = (performance.now() - t0) / 1000;
      const tokS = (argv.steps * B * T) / sec;
      const gflops = (tokS * flopsPerToken) / 1e9;
      rows.push({
        mode: recompute ? 'recompute (activation checkpointing)' : 'keep tapes',
        tokens_per_s: tokS,
        model_gflops: gflops,
        mfu: gflops / matmul,
        step_ms: (sec * 1000) / argv.steps,
        forward_ms: sums.forwardMs / argv.steps,
        backward_ms: sums.backwardMs / argv.steps,
        optimizer_ms: sums.optimizerMs / argv.steps,
      });
    }
    const result = { backend: info.name, config: argv.config, batch: B, seq: T, matmul_gflops_1024: matmul, flops_per_token: flopsPerToken, runs: rows };
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    process.stdout.write(`backend ${info.name}; micro-batch ${B} × seq ${T}; 1024³ matmul ${matmul.toFixed(1)} GFLOP/s (same run); ${(flopsPerToken / 1e6).toFixed(2)} MFLOP per token\n`);
    process.stdout.write(`${formatTable(['mode', 'tokens/s', 'model GFLOP/s', 'MFU', 'step ms', 'fwd ms', 'bwd ms', 'optim ms'], rows.map((r) => [r.mode, r.tokens_per_s.toFixed(0), r.model_gflops.toFixed(1), `${(100 * r.mfu).toFixed(1)}%`, r.step_ms.toFixed(0), r.forward_ms.toFixed(0), r.backward_ms.toFixed(0), r.optimizer_ms.toFixed(0)]))}\n`);
  },
};
