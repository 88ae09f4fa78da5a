/**
 * The main example: train a tiny Llama on a built-in synthetic task (2-digit addition by default),
 * then report exact-match accuracy and save a checkpoint.
 *
 *   npx ds-launch --config configs/tiny.json5 examples/train.ts
 *   npx ds-launch --num_procs 2 --config configs/tiny.json5 examples/train.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initialize } from '../src/runtime/initialize.ts';
import { modelConfigFromDs } from '../src/runtime/config/index.ts';
import { AdditionTask, ReversalTask, taskBatches, taskTokenizer, type Task } from '../src/data/index.ts';
import { log } from '../src/runtime/logger.ts';
import { InputError } from '../src/errors.ts';
import type { MicroBatch } from '../src/runtime/engine/executor.ts';

const { values: args } = parseArgs({ options: { config: { type: 'string' }, steps: { type: 'string' } }, strict: false });
const configPath = (args.config as string | undefined) ?? process.env.DS_CONFIG;
if (!configPath) throw new InputError('examples/train.ts: pass --config PATH (ds-launch --config does)');

const tok = taskTokenizer();
const rt = await initialize({ config: configPath, model: (cfg) => modelConfigFromDs(cfg, tok.vocabSize, tok.special) });
const { engine, config, dist } = rt;
const data = config.data ?? { task: 'addition' as const, digits: 2 };
const task: Task = data.task === 'reversal' ? new ReversalTask({ minLength: data.min_length, maxLength: data.max_length }) : new AdditionTask({ digits: data.digits });
if (data.task === 'arrow') throw new InputError('examples/train.ts trains on the built-in tasks; data.task "arrow" is for ds bench train');
const steps = Number(args.steps ?? config.train?.steps ?? 1000);
const seqLen = data.seq_len ?? task.maxChars + 1;
const micro = config.train_micro_batch_size_per_gpu;
const batches = taskBatches({ task, seqLen, batchSize: micro, seed: config.seed, rank: dist.rank, worldSize: dist.worldSize });
const next = (): MicroBatch => ({ ...batches.next().value, batchSize: micro, seqLen });

const outDir = config.train?.out_dir ?? 'runs/tiny';
const logFile = dist.rank === 0 ? path.join(outDir, 'train.jsonl') : null;
if (logFile) {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(logFile, '');
}

const evaluate = async (n: number): Promise<number> =>
  task.evaluate(async (prompts) => {
    const ids = prompts.map((p) => tok.encode(p, { addBos: true }));
    return engine.generate(ids, task.maxChars, tok.special.eos).map((o) => tok.decode(o));
  }, n, 987654321);

log.info(`training ${task.name} on ${dist.worldSize} rank(s): ${engine.flat.numel} parameters, ${steps} steps, global batch ${config.train_batch_size}`);
const t0 = performance.now();
let tokens = 0;
for (let s = 0; s < steps; s++) {
  const r = await engine.trainBatch(next);
  tokens += r.tokens * dist.worldSize;
  const elapsed = (performance.now() - t0) / 1000;
  if (logFile) fs.appendFileSync(logFile, JSON.stringify({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: tokens / elapsed, ...r.timings }) + '\n');
  if (r.step % config.steps_per_print === 0 || r.step === steps)
    log.info(`step ${r.step}/${steps} | loss ${r.loss.toFixed(4)} | lr ${r.lr.toExponential(2)} | ${Math.round(tokens / elapsed)} tok/s | grad_norm ${r.gradNorm.toFixed(3)} | ${elapsed.toFixed(0)} s`);
  const every = config.train?.eval_every ?? 0;
  if (every > 0 && r.step % every === 0 && r.step < steps && dist.rank === 0) log.info(`step ${r.step}: exact match ${(100 * (await evaluate(200))).toFixed(1)}% (200 samples)`);
}
if (dist.rank === 0) {
  const acc = await evaluate(config.train?.eval_samples ?? 500);
  log.info(`exact match on ${config.train?.eval_samples ?? 500} held-out ${task.name} problems: ${(100 * acc).toFixed(1)}% after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
await rt.close();
