/**
 * The main example: train a tiny Llama on a built-in synthetic task (2-digit addition by default),
 * then report exact-match accuracy and save a checkpoint.
 *
 *   npx ds-launch --config configs/tiny.json5 examples/train.ts [--steps N] [--resume]
 *   npx ds-launch --num_procs 2 --config configs/tiny.json5 examples/train.ts
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initialize } from '../src/runtime/initialize.ts';
import { modelConfigFromDs } from '../src/runtime/config/index.ts';
import { AdditionTask, ReversalTask, taskBatches, taskTokenizer, type Task } from '../src/data/index.ts';
import { MetricsLog, ProgressBar, formatStepLine } from '../src/runtime/monitor/index.ts';
import { log } from '../src/runtime/logger.ts';
import { InputError } from '../src/errors.ts';
import type { MicroBatch } from '../src/runtime/engine/executor.ts';

const { values: args } = parseArgs({ options: { config: { type: 'string' }, steps: { type: 'string' }, resume: { type: 'boolean' } }, strict: false });
const configPath = (args.config as string | undefined) ?? process.env.DS_CONFIG;
if (!configPath) throw new InputError('examples/train.ts: pass --config PATH (ds-launch --config does)');

const tok = taskTokenizer();
const rt = await initialize({ config: configPath, model: (cfg) => modelConfigFromDs(cfg, tok.vocabSize, tok.special) });
const { engine, config, dist } = rt;
const data = config.data ?? { task: 'addition' as const, digits: 2 };
if (data.task === 'arrow') throw new InputError('examples/train.ts trains on the built-in tasks; data.task "arrow" is for ds bench train');
const task: Task = data.task === 'reversal' ? new ReversalTask({ minLength: data.min_length, maxLength: data.max_length }) : new AdditionTask({ digits: data.digits });
const steps = Number(args.steps ?? config.train?.steps ?? 1000);
const seqLen = data.seq_len ?? task.maxChars + 1;
const micro = config.train_micro_batch_size_per_gpu;
const batches = taskBatches({ task, seqLen, batchSize: micro, seed: config.seed, rank: dist.rank, worldSize: dist.worldSize });
const next = (): MicroBatch => ({ ...batches.next().value, batchSize: micro, seqLen });
const outDir = config.train?.out_dir ?? 'runs/tiny';
const ckptDir = config.train?.checkpoint?.dir ?? path.join(outDir, 'checkpoints');

if (args.resume) {
  await engine.loadCheckpoint(ckptDir);
  // The batches are a deterministic stream: skip what the saved run consumed.
  for (let i = 0; i < engine.step * config.gradient_accumulation_steps; i++) batches.next();
  log.info(`resumed from ${ckptDir} at step ${engine.step}`);
}

const evaluate = async (n: number): Promise<number> =>
  task.evaluate(async (prompts) => {
    const ids = prompts.map((p) => tok.encode(p, { addBos: true }));
    return engine.generate(ids, task.maxChars, tok.special.eos).map((o) => tok.decode(o));
  }, n, 987654321);

log.info(`training ${task.name} on ${dist.worldSize} rank(s): ${engine.flat.numel} parameters, ${steps} steps, global batch ${config.train_batch_size}`);
const metrics = MetricsLog.fromConfig(config.csv_monitor, dist.rank);
const progress = new ProgressBar({ total: steps, enabled: dist.rank === 0, startStep: engine.step });
const t0 = performance.now();
let tokens = 0;
while (engine.step < steps) {
  const r = await engine.trainBatch(next);
  tokens += r.tokens * dist.worldSize;
  const tokensPerSec = tokens / ((performance.now() - t0) / 1000);
  progress.update({ step: r.step, loss: r.loss, lr: r.lr, tokensPerSec });
  const t = r.timings;
  metrics?.write({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: tokensPerSec, forward_ms: t.forwardMs, backward_ms: t.backwardMs, comm_ms: t.commMs, optimizer_ms: t.optimizerMs });
  if (r.step % config.steps_per_print === 0) {
    log.info(formatStepLine({ step: r.step, total: steps, loss: r.loss, lr: r.lr, tokensPerSec, gradNorm: r.gradNorm }));
    if (config.wall_clock_breakdown) log.info(`fwd: ${t.forwardMs.toFixed(1)} ms | bwd: ${t.backwardMs.toFixed(1)} ms | comm: ${t.commMs.toFixed(1)} ms | optim: ${t.optimizerMs.toFixed(1)} ms`);
  }
  const every = config.train?.eval_every ?? 0;
  if (every > 0 && r.step % every === 0 && r.step < steps && dist.rank === 0) log.info(`step ${r.step}: exact match ${(100 * (await evaluate(200))).toFixed(1)}% (200 samples)`);
  const saveEvery = config.train?.checkpoint?.save_every ?? 0;
  if (saveEvery > 0 && r.step % saveEvery === 0) await engine.saveCheckpoint(ckptDir);
}
progress.finish();
metrics?.close();
await engine.saveCheckpoint(ckptDir, 'final');
if (dist.rank === 0) {
  const n = config.train?.eval_samples ?? 500;
  const acc = await evaluate(n);
  log.info(`exact match on ${n} held-out ${task.name} problems: ${(100 * acc).toFixed(1)}% after ${((performance.now() - t0) / 1000).toFixed(0)} s; checkpoint in ${ckptDir}`);
}
await rt.close();
