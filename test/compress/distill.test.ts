/**
 * Distillation through initialize(): a teacher checkpoint on disk, a student trained against it;
 * the teacher's side is checked (missing, other vocabulary or tokenizer, layers out of range);
 * layer reduction starts the student from the chosen teacher layers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialize, type TrainingRuntime } from '../../src/runtime/initialize.ts';
import { readFullWeights } from '../../src/export/read.ts';
import { exportCheckpoint } from '../../src/export/export.ts';
import { CharTokenizer } from '../../src/data/tokenizer/char.ts';
import { taskTokenizer, type Tokenizer } from '../../src/data/index.ts';
import type { ModelConfig } from '../../src/models/types.ts';
import { ConfigError, InputError } from '../../src/errors.ts';
import { batchStream, lossCurve, relDiff, TINY, zeroConfig } from '../zero/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-distill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { DS_LOG_LEVEL: 'warn' };
const base = { train_micro_batch_size_per_gpu: 4, optimizer: { type: 'Adam', params: { lr: 1e-2 } }, seed: 7, backend: 'cpu' };
const STUDENT: ModelConfig = { ...TINY, hiddenSize: 8, headDim: 2, intermediateSize: 16 };

async function train(rt: TrainingRuntime, steps: number): Promise<number[]> {
  const next = batchStream(rt);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push((await rt.engine.trainBatch(next)).loss);
  return out;
}

/** A teacher checkpoint of `model` trained a few steps, saved with `tok` under dir/name (tag final). */
async function teacherCheckpoint(name: string, model: ModelConfig, tok: Tokenizer): Promise<string> {
  const rt = await initialize({ config: base, model, tokenizer: tok, env });
  await train(rt, 3);
  await rt.engine.save_checkpoint(join(dir, name), 'final');
  await rt.close();
  return join(dir, name);
}

const student = (distillation: Record<string, unknown> | null, extra: Record<string, unknown> = {}, model = STUDENT) =>
  initialize({ config: { ...base, ...(distillation ? { distillation } : {}), ...extra }, model, tokenizer: taskTokenizer(), env });

let teacherDir = '';
beforeAll(async () => {
  teacherDir = await teacherCheckpoint('teacher', TINY, taskTokenizer());
}, 60_000);

describe('distillation', () => {
  it('alpha 0 trains exactly as without a teacher; alpha > 0 follows the teacher', async () => {
    const plain = await student(null);
    const hard = await student({ teacher: teacherDir, teacher_tag: 'final', alpha: 0 });
    const soft = await student({ teacher: teacherDir, teacher_tag: 'final', alpha: 0.8, temperature: 2 });
    const [a, b, c] = [await train(plain, 4), await train(hard, 4), await train(soft, 4)];
    for (const rt of [plain, hard, soft]) await rt.close();
    expect(b).toEqual(a);
    expect(Math.abs(c[3]! - a[3]!)).toBeGreaterThan(1e-3);
  }, 60_000);

  it('an exported model dir teaches exactly as the checkpoint it came from', async () => {
    const out = join(dir, 'teacher-model');
    await exportCheckpoint({ checkpoint: teacherDir, tag: 'final', out, format: 'dir' });
    const fromCkpt = await student({ teacher: teacherDir, teacher_tag: 'final', alpha: 0.5 });
    const fromDir = await student({ teacher: out, alpha: 0.5 });
    const [a, b] = [await train(fromCkpt, 2), await train(fromDir, 2)];
    await fromCkpt.close();
    await fromDir.close();
    expect(b).toEqual(a);
  }, 60_000);

  it('a missing teacher names the path and the student', async () => {
    const e = await student({ teacher: join(dir, 'nope') }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/distillation\.teacher: .*nope does not exist .*student's vocabulary of 42/);
  });

  it("a teacher with another vocabulary or another tokenizer of the same size names both sides", async () => {
    const small = CharTokenizer.fromAlphabet('0123456789+=');
    const other = await teacherCheckpoint('small-vocab', { ...TINY, vocabSize: small.vocabSize }, small);
    const e1 = await student({ teacher: other }).catch((x: unknown) => x);
    expect((e1 as Error).message).toMatch(new RegExp(`the teacher \\(checkpoint .*small-vocab/final\\) has a vocabulary of ${small.vocabSize} tokens, the student 42`));
    const shuffled = CharTokenizer.fromAlphabet('9876543210+=>abcdefghijklmnopqrstuvwxyz');
    const same = await teacherCheckpoint('shuffled', TINY, shuffled);
    const e2 = await student({ teacher: same }).catch((x: unknown) => x);
    expect((e2 as Error).message).toMatch(/the teacher's tokenizer \(checkpoint .*shuffled\/final\) and the student's have the same size \(42\) but different vocabularies/);
  }, 60_000);

  it('layer reduction: the student starts from the chosen teacher layers; an index out of range is named', async () => {
    const one = { ...TINY, numLayers: 1 };
    const rt = await student({ teacher: teacherDir, teacher_tag: 'final' }, { compression_training: { layer_reduction: { enabled: true, keep_number_layer: 1, teacher_layer: [1] } } }, one);
    const t = await readFullWeights(teacherDir, 'final');
    const f = rt.engine.flat;
    for (const [mine, theirs] of [['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.q_proj.weight'], ['model.layers.0.mlp.down_proj.weight', 'model.layers.1.mlp.down_proj.weight'], ['model.embed_tokens.weight', 'model.embed_tokens.weight'], ['model.norm.weight', 'model.norm.weight']]) {
      expect(Array.from(f.view(mine!))).toEqual(Array.from(t.weights.get(theirs!)!.data));
    }
    await rt.close();
    const bad = await student({ teacher: teacherDir }, { compression_training: { layer_reduction: { enabled: true, keep_number_layer: 1, teacher_layer: [2] } } }, one).catch((x: unknown) => x);
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as ConfigError).path).toBe('compression_training.layer_reduction.teacher_layer[0]');
    expect((bad as Error).message).toMatch(/2 is out of range: the teacher \(checkpoint .*teacher\/final\) has layers 0\.\.1/);
    const depth = await student({ teacher: teacherDir }, { compression_training: { layer_reduction: { enabled: true, keep_number_layer: 2, teacher_layer: [0, 1] } } }, one).catch((x: unknown) => x);
    expect((depth as Error).message).toMatch(/keep_number_layer: 2, but the student model has 1 layers/);
  }, 60_000);

  it('ZeRO-2 and ZeRO-3 at 2 ranks give the distilled curve of one rank (the teacher runs on every rank)', async () => {
    const extra = { distillation: { teacher: teacherDir, teacher_tag: 'final', alpha: 0.6, temperature: 2 } };
    const one = await lossCurve(1, zeroConfig(1, 2, { stage: 0 }, extra), 5);
    for (const stage of [2, 3]) expect(relDiff(await lossCurve(2, zeroConfig(2, 1, { stage, stage3_param_persistence_threshold: 0 }, extra), 5), one)).toBeLessThan(1e-5);
  }, 60_000);
});
