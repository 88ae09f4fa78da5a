/**
 * The engine as a DeepSpeed user drives it, in one process: training data given to initialize,
 * save_checkpoint / load_checkpoint with client state and the loader's position, a checkpoint of
 * another model refused, evaluation without a backward pass, keep_last, OneCycle's momentum.
 */
import * as tf from '@tensorflow/tfjs-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../../../src/data/arrow/index.ts';
import { ConfigError } from '../../../src/errors.ts';
import { initialize, type TrainingRuntime } from '../../../src/runtime/initialize.ts';
import { forwardBackward, uploadParams } from '../../../src/runtime/engine/executor.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-engine-api-'));
const data = path.join(dir, 'data');
const model = { hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32 };
const env = {} as NodeJS.ProcessEnv; // one rank

function config(extra: object = {}): object {
  return { train_batch_size: 4, steps_per_print: 1000, optimizer: { type: 'AdamW', params: { lr: 3e-3 } }, seed: 5, model, data: { task: 'arrow', path: data }, ...extra };
}

async function run(rt: TrainingRuntime, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await rt.engine.trainBatch()).loss);
  return losses;
}

beforeAll(async () => {
  const text = Array.from({ length: 300 }, (_, i) => `line ${i % 17} of the text, with ${(i * 7) % 13} words and a few more.`).join('\n');
  fs.writeFileSync(path.join(dir, 'c.txt'), text);
  await prepareDataset({ input: path.join(dir, 'c.txt'), tokenizer: 'train:280', seqLen: 16, out: data, valFraction: 0.1, seed: 1 });
}, 60_000);

describe('save_checkpoint / load_checkpoint', () => {
  it('a resumed run continues the same losses, with its client state and the data position restored', async () => {
    const full = await initialize({ config: config(), env });
    const straight = await run(full, 6);

    const first = await initialize({ config: config(), env });
    await run(first, 3);
    await first.engine.save_checkpoint(path.join(dir, 'ck'), undefined, { epoch_note: 'three steps in', lr_seen: [1, 2] });

    const resumed = await initialize({ config: config(), env });
    const got = await resumed.engine.load_checkpoint(path.join(dir, 'ck'));
    expect(got.tag).toBe('global_step3');
    expect(got.clientState).toEqual({ epoch_note: 'three steps in', lr_seen: [1, 2] });
    expect(resumed.engine.step).toBe(3);
    expect(await run(resumed, 3)).toEqual(straight.slice(3));
  }, 60_000);

  it('refuses a checkpoint of a model with other heads or rope_theta, naming what differs', async () => {
    const other = await initialize({ config: config({ model: { ...model, num_attention_heads: 2, num_key_value_heads: 1, rope_theta: 500000 } }), env });
    const err = await other.engine.load_checkpoint(path.join(dir, 'ck')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/num_attention_heads 4 in the checkpoint, 2 in this model/);
    expect((err as Error).message).toMatch(/rope_theta 10000 in the checkpoint, 500000 in this model/);
  }, 30_000);

  it('train.checkpoint.save_every with keep_last leaves the newest tags only', async () => {
    const ck = path.join(dir, 'keep');
    const rt = await initialize({ config: config({ train: { steps: 5, checkpoint: { dir: ck, save_every: 1, keep_last: 2 } } }), env });
    await run(rt, 5);
    expect(fs.readdirSync(ck).filter((f) => f.startsWith('global_step')).sort()).toEqual(['global_step4', 'global_step5']);
  }, 30_000);
});

describe('evaluation', () => {
  it('evalLoss is the forward loss of a batch, leaves gradients alone and allocates no lasting tensor', async () => {
    const rt = await initialize({ config: config(), env });
    await run(rt, 1);
    const mb = rt.trainingData!.next();
    const grads = rt.engine.flat.grads.slice();
    const before = tf.memory().numTensors;
    const loss = rt.engine.evalLoss(mb);
    expect(tf.memory().numTensors).toBe(before);
    expect(rt.engine.flat.grads).toEqual(grads);
    // The same loss through the training path's forward (which also runs backward).
    const params = uploadParams(rt.engine.flat);
    const masked = mb.mask.reduce((a, b) => a + b, 0);
    const ref = forwardBackward(rt.engine.model, rt.engine.flat, params, mb, masked).loss;
    tf.dispose([...params.values()]);
    expect(Math.abs(loss - ref) / ref).toBeLessThan(1e-5);
  }, 30_000);

  it('evaluate() scores the whole validation split: loss and perplexity = exp(loss)', async () => {
    const rt = await initialize({ config: config(), env });
    const ev = await rt.evaluate();
    expect(ev.tokens).toBe(rt.trainingData!.dataset.manifest.splits.validation.rows * 16);
    expect(ev.perplexity).toBeCloseTo(Math.exp(ev.loss), 6);
    expect(ev.loss).toBeGreaterThan(Math.log(280) - 1); // an untrained model is near uniform
  }, 30_000);
});

describe('OneCycle cycle_momentum', () => {
  const cycle = (cycle_momentum: boolean) => ({
    optimizer: { type: 'Adam', params: { lr: 1e-3, betas: [0.85, 0.99] } },
    scheduler: { type: 'OneCycle', params: { cycle_min_lr: 1e-3, cycle_max_lr: 5e-3, cycle_first_step_size: 4, cycle_momentum, cycle_min_mom: 0.85, cycle_max_mom: 0.95 } },
  });
  it("reaches Adam's beta1: step 1 runs at cycle_min_mom (as fixed betas [0.85, 0.99] do), later steps move away", async () => {
    const on = await run(await initialize({ config: config(cycle(true)), env }), 4);
    const off = await run(await initialize({ config: config(cycle(false)), env }), 4);
    // Losses are taken before each update: step 2's loss is after the first update, equal in both runs.
    expect(on.slice(0, 2)).toEqual(off.slice(0, 2));
    expect(on[3]).not.toBe(off[3]);
  }, 60_000);
});
