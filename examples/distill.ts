/**
 * Knowledge distillation on a built-in task: the config's `distillation` block names a frozen
 * teacher (a training checkpoint or an exported model dir); initialize() loads it on every rank
 * and the engine trains the config's `model` (the student) on
 *   alpha·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − alpha)·CE(labels).
 * At the end it prints the exact match of the student and of the teacher, and saves the student.
 *
 *   npx ds-launch --config configs/distill.json5 examples/distill.ts [--steps N]
 *   (without a distillation block, the same script trains the student from scratch)
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initialize } from '../src/runtime/initialize.ts';
import { modelConfigFromDs } from '../src/runtime/config/index.ts';
import { AdditionTask, ReversalTask, taskBatches, taskTokenizer, type Task } from '../src/data/index.ts';
import { loadTeacher } from '../src/compress/index.ts';
import { greedyGenerateAsync } from '../src/runtime/engine/greedy.ts';
import { log } from '../src/runtime/logger.ts';
import { InputError } from '../src/errors.ts';
import type { MicroBatch } from '../src/runtime/engine/executor.ts';

const { values: args } = parseArgs({ options: { config: { type: 'string' }, steps: { type: 'string' } }, strict: false });
const configPath = (args.config as string | undefined) ?? process.env.DS_CONFIG;
if (!configPath) throw new InputError('examples/distill.ts: pass --config PATH (ds-launch --config does)');

const tok = taskTokenizer();
const rt = await initialize({ config: configPath, tokenizer: tok, steps: args.steps === undefined ? undefined : Number(args.steps), model: (cfg) => modelConfigFromDs(cfg, tok.vocabSize, tok.special) });
const { engine, config, dist } = rt;
const data = config.data;
if (data.task === 'arrow') throw new InputError('examples/distill.ts trains on the built-in tasks (data.task addition or reversal)');
const task: Task = data.task === 'reversal' ? new ReversalTask({ minLength: data.min_length, maxLength: data.max_length }) : new AdditionTask({ digits: data.digits });
const steps = rt.totalSteps ?? 1000;
const seqLen = data.seq_len ?? task.maxChars + 1;
const micro = config.train_micro_batch_size_per_gpu;
const batches = taskBatches({ task, seqLen, batchSize: micro, seed: config.seed, rank: dist.rank, worldSize: dist.worldSize });
const next = (): MicroBatch => ({ ...batches.next().value, batchSize: micro, seqLen });

/** Exact match of greedy answers (the held-out problems of examples/train.ts). */
const exactMatch = (generate: (ids: number[][]) => Promise<number[][]>, n: number): Promise<number> =>
  task.evaluate(async (prompts) => (await generate(prompts.map((p) => tok.encode(p, { addBos: true })))).map((o) => tok.decode(o)), n, 987654321);

const d = config.distillation;
log.info(`training the ${d?.enabled ? `student of ${d.teacher}` : 'model from scratch'}: ${engine.flat.numel} parameters, ${steps} steps, ${task.name}`);
const t0 = performance.now();
while (engine.step < steps) await engine.trainBatch(next);
const ckptDir = config.train.checkpoint.dir ?? path.join(config.train.out_dir, 'checkpoints');
await engine.save_checkpoint(ckptDir, 'final');
if (dist.rank === 0) {
  const n = config.train.eval_samples;
  const student = await exactMatch((ids) => engine.generateAsync(ids, task.maxChars, tok.special.eos), n);
  log.info(`student: exact match ${(100 * student).toFixed(1)}% on ${n} held-out problems after ${((performance.now() - t0) / 1000).toFixed(0)} s (${engine.flat.numel} parameters); checkpoint in ${ckptDir}`);
  if (d?.enabled) {
    const teacher = await loadTeacher(d.teacher, d.teacher_tag, { config: engine.model.config, tokenizer: tok });
    const params = new Map<string, tf.Tensor>();
    for (const l of teacher.model.layers) for (const p of l.params) if (!params.has(p.name)) params.set(p.name, tf.tensor(teacher.weights.get(p.name)!.data, [...p.shape], 'float32'));
    const acc = await exactMatch((ids) => greedyGenerateAsync(teacher.model, params, ids, { maxNewTokens: task.maxChars, eosId: tok.special.eos }), n);
    const tParams = [...params.values()].reduce((s, t) => s + t.size, 0);
    log.info(`teacher: exact match ${(100 * acc).toFixed(1)}% (${tParams} parameters; the student has ${(engine.flat.numel / tParams).toFixed(2)}× as many)`);
    tf.dispose([...params.values()]);
    teacher.dispose();
  }
}
await rt.close();
