import type { Model } from '../models/types.ts';
import type { Tokenizer } from '../data/tokenizer/types.ts';
import type { DsConfig } from '../runtime/config/index.ts';
import type { LossHook } from '../runtime/engine/executor.ts';
import type { ZeroStage } from '../runtime/engine/reducer.ts';
import { log } from '../runtime/logger.ts';
import { planWeightQuantization } from './quantize/qat_plan.ts';
import { withWeightQuantization } from './quantize/qat.ts';
import { loadTeacher, type Teacher } from './distill/teacher.ts';
import { distillationHook } from './distill/loss_hook.ts';
import { studentFromTeacher } from './distill/layer_reduction.ts';

/** What compression changes in a training run: the stage (QAT decorates it) and the loss (distillation's). */
export interface CompressionSetup {
  readonly stage: ZeroStage;
  readonly loss: LossHook | undefined;
  readonly teacher: Teacher | null;
}

/**
 * The compression blocks of a validated config applied to a fresh stage: layer reduction copies
 * the chosen teacher layers into the student's parameters (every rank reads the same teacher),
 * distillation brings the teacher's loss, weight_quantization fake-quantizes the planned weights
 * in forward. `stepNow` reads the engine's global step (the bit schedule follows it).
 */
export async function setupCompression(config: DsConfig, ctx: { model: Model; stage: ZeroStage; tokenizer: Tokenizer | null; stepNow: () => number }): Promise<CompressionSetup> {
  let stage = ctx.stage;
  let loss: LossHook | undefined;
  let teacher: Teacher | null = null;
  const d = config.distillation;
  if (d?.enabled) {
    teacher = await loadTeacher(d.teacher, d.teacher_tag, { config: ctx.model.config, tokenizer: ctx.tokenizer });
    loss = distillationHook(teacher, { temperature: d.temperature, alpha: d.alpha });
    log.info(`distillation: teacher ${teacher.source} (${teacher.model.config.numLayers} layers), T ${d.temperature}, alpha ${d.alpha}`);
  }
  const lr = config.compression_training?.layer_reduction;
  if (lr?.enabled && teacher) {
    const t = teacher;
    const params = studentFromTeacher(ctx.model.config, stage.flat, { config: t.model.config, weights: t.weights, source: t.source }, {
      keep_number_layer: lr.keep_number_layer!, teacher_layer: lr.teacher_layer!,
    });
    const zeros = Object.fromEntries(Object.keys(stage.optimizer.state().buffers).map((k) => [k, new Float32Array(stage.flat.numel)]));
    stage.loadFull({ params, optimizer: zeros, optimizerStep: 0 });
    log.info(`layer reduction: student layers start from teacher layers [${lr.teacher_layer!.join(', ')}]`);
  }
  const wq = config.compression_training?.weight_quantization;
  const plan = wq ? planWeightQuantization(wq, ctx.model) : null;
  if (plan) {
    stage = withWeightQuantization(stage, plan, ctx.stepNow, config.seed);
    log.info(`weight quantization: ${plan.params.size} weight(s) fake-quantized in forward from step ${plan.offset}`);
  }
  return { stage, loss, teacher };
}
