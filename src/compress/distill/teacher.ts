import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../errors.ts';
import { readFullWeights } from '../../export/read.ts';
import { loadModelDir } from '../../inference/loaders/model_dir.ts';
import type { HostTensor } from '../../inference/loaders/types.ts';
import { buildLlama } from '../../models/llama.ts';
import type { Model, ModelConfig } from '../../models/types.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import { forwardLogits } from '../../runtime/engine/executor.ts';

/**
 * The frozen teacher of a distillation run: its weights as tensors uploaded once, forward only.
 * It runs on every rank beside the student and never receives a gradient (its logits enter the
 * loss as constants).
 */
export interface Teacher {
  readonly model: Model;
  /** HF names → float32 weights (layer reduction copies from these). */
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly tokenizer: Tokenizer | null;
  /** "checkpoint DIR/TAG" or "model dir DIR", for messages. */
  readonly source: string;
  /** Logits [B, T, V] of token ids [B, T]; the caller disposes them. */
  logits(ids: tf.Tensor2D): tf.Tensor3D;
  dispose(): void;
}

/** What the teacher is checked against: the student's model config and tokenizer (null when the run has none). */
export interface StudentSide {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer | null;
}

/** Reads a training checkpoint dir (DIR/latest or `tag`) or an exported model dir (config.json + safetensors). */
export async function loadTeacher(path: string, tag: string | undefined, student: StudentSide): Promise<Teacher> {
  if (!existsSync(path)) throw new InputError(`distillation.teacher: ${path} does not exist (expected a training checkpoint dir or an exported model dir for the student's vocabulary of ${student.config.vocabSize})`);
  const isModelDir = existsSync(join(path, 'config.json'));
  const loaded = isModelDir
    ? { ...loadModelDir(path), source: `model dir ${path}` }
    : await readFullWeights(path, tag).then((ck) => ({ config: ck.config, weights: ck.weights, tokenizer: ck.tokenizer, source: `checkpoint ${ck.source}` }));
  checkSameVocabulary(loaded.source, loaded.config, loaded.tokenizer, student);
  const model = buildLlama(loaded.config);
  const params = new Map<string, tf.Tensor>();
  for (const layer of model.layers) {
    for (const p of layer.params) {
      if (params.has(p.name)) continue;
      const w = loaded.weights.get(p.name);
      if (!w) throw new InputError(`distillation.teacher: ${loaded.source} has no weight ${p.name}`);
      params.set(p.name, tf.tensor(w.data, w.shape, 'float32'));
    }
  }
  return {
    model,
    weights: loaded.weights,
    tokenizer: loaded.tokenizer,
    source: loaded.source,
    logits: (ids) => forwardLogits(model, params, ids),
    dispose: () => tf.dispose([...params.values()]),
  };
}

/** Same vocabulary size, same special tokens and (when both sides have one) the same tokenizer.json. */
function checkSameVocabulary(source: string, config: ModelConfig, tok: Tokenizer | null, student: StudentSide): void {
  const s = student.config;
  if (config.vocabSize !== s.vocabSize)
    throw new InputError(`distillation.teacher: the teacher (${source}) has a vocabulary of ${config.vocabSize} tokens, the student ${s.vocabSize}; distillation compares their distributions token by token, so they must share one tokenizer`);
  const st = student.tokenizer;
  if (!tok || !st) return;
  for (const k of ['bos', 'eos', 'pad'] as const) {
    if (tok.special[k] !== st.special[k])
      throw new InputError(`distillation.teacher: the teacher's tokenizer (${source}) has ${k} id ${tok.special[k]}, the student's ${st.special[k]}: not the same tokenizer`);
  }
  const a = tok.toTokenizerJson?.();
  const b = st.toTokenizerJson?.();
  if (a && b && JSON.stringify(a.model) !== JSON.stringify(b.model))
    throw new InputError(`distillation.teacher: the teacher's tokenizer (${source}) and the student's have the same size (${s.vocabSize}) but different vocabularies or merges: they must be one tokenizer`);
}
