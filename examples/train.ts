/**
 * The main example: train a tiny Llama on a built-in synthetic task (2-digit addition by default),
 * then report exact-match accuracy and save a checkpoint. The engine prints the step lines, draws
 * the progress bar, writes the monitors and saves every train.checkpoint.save_every steps.
 *
 *   npx ds-launch --config configs/tiny.json5 examples/train.ts [--steps N] [--resume]
 *   npx ds-launch --num_procs 2 --config configs/tiny.json5 examples/train.ts
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initialize } from '../src/runtime/initialize.ts';
import { modelConfigFromDs } from '../src/runtime/config/index.ts';
import { AdditionTask, ReversalTask, taskBatches, taskTokenizer, type Task } from '../src/data/index.ts';
import { log } from '../src/runtime/logger.ts';
import { InputError } from '../src/errors.ts';
import type { MicroBatch } from '../src/runtime/engine/executor.ts';

const { values: args } = parseArgs({ options: { config: { type: 'string' }, steps: { type: 'string' }, resume: { type: 'boolean' } }, strict: false });
const configPath = (args.config as string | undefined) ?? process.env.DS_CONFIG;
if (!configPath) throw new InputError('examples/train.ts: pass --config PATH (ds-launch --config does)');

const tok = taskTokenizer();
const stepsFlag = args.steps === undefined ? undefined : Number(args.steps);
const rt = await initialize({ config: configPath, tokenizer: tok, steps: stepsFlag, model: (cfg) => modelConfigFromDs(cfg, tok.vocabSize, tok.special) });
const { engine, config, dist } = rt;
const data = config.data;
if (data.task === 'arrow') throw new InputError('examples/train.ts trains on the built-in tasks; for data.task "arrow" run examples/pretrain.ts');
const task: Task = data.task === 'reversal' ? new ReversalTask({ minLength: data.min_length, maxLength: data.max_length }) : new AdditionTask({ digits: data.digits });
const steps = rt.totalSteps ?? 1000;
const seqLen = data.seq_len ?? task.maxChars + 1;
const micro = config.train_micro_batch_size_per_gpu;
const batches = taskBatches({ task, seqLen, batchSize: micro, seed: config.seed, rank: rt.dataParallel.rank, worldSize: rt.dataParallel.size });
const next = (): MicroBatch => ({ ...batches.next().value, batchSize: micro, seqLen });
const ckptDir = config.train.checkpoint.dir ?? path.join(config.train.out_dir, 'checkpoints');

if (args.resume) {
  await engine.load_checkpoint(ckptDir);
  // The batches are a deterministic stream: skip what the saved run consumed.
  for (let i = 0; i < engine.step * config.gradient_accumulation_steps; i++) batches.next();
  log.info(`resumed from ${ckptDir} at step ${engine.step}`);
}

const evaluate = async (n: number): Promise<number> =>
  task.evaluate(async (prompts) => {
    const ids = prompts.map((p) => tok.encode(p, { addBos: true }));
    return (await engine.generateAsync(ids, task.maxChars, tok.special.eos)).map((o) => tok.decode(o)); // async: runs on webgpu too
  }, n, 987654321);

// Generation needs the whole model on one rank: under tensor or pipeline parallelism the exact
// match is scored after the run by exporting the checkpoint (ds export, then ds generate).
const canGenerate = rt.grid.tp === 1 && rt.grid.pp === 1;
log.info(`training ${task.name} on ${dist.worldSize} rank(s): ${engine.flat.numel} parameters${canGenerate ? '' : ' on rank 0 (its stage, its tp slices)'}, ${steps} steps, global batch ${config.train_batch_size}`);
const t0 = performance.now();
while (engine.step < steps) {
  const r = await engine.trainBatch(next);
  const every = config.train.eval_every;
  if (canGenerate && every > 0 && r.step % every === 0 && r.step < steps) {
    await engine.gatherParams(); // every rank: under ZeRO-3 the shards are all-gathered
    if (dist.rank === 0) log.info(`step ${r.step}: exact match ${(100 * (await evaluate(200))).toFixed(1)}% (200 samples)`);
    engine.releaseParams();
  }
}
await engine.save_checkpoint(ckptDir, 'final');
await engine.gatherParams();
if (!canGenerate) {
  if (dist.rank === 0) log.info(`trained with tp ${rt.grid.tp} × pp ${rt.grid.pp}: checkpoint in ${ckptDir}; score it with ds export --checkpoint ${ckptDir} --out model.gguf --format gguf, then ds generate --model model.gguf`);
} else if (dist.rank === 0) {
  const n = config.train.eval_samples;
  const acc = await evaluate(n);
  log.info(`exact match on ${n} held-out ${task.name} problems: ${(100 * acc).toFixed(1)}% after ${((performance.now() - t0) / 1000).toFixed(0)} s; checkpoint in ${ckptDir}`);
}
await rt.close();
