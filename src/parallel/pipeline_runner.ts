/**
 * A pipeline stage's step (the engine's MicroBatchRunner): its slice of the layer list runs the
 * 1F1B instruction list of schedule.ts over the step's micro-batches. Activations [B, T, D] go to
 * the next stage and their gradients come back over the pipe group's send/recv; the last stage
 * computes the loss. Every stage of a pipe draws the same micro-batches (the data-parallel
 * rank's), so each has the token ids, targets and mask it needs.
 *
 *   stage 0: ids → embed, blocks …   ──act──▶   stage 1: … blocks, head → loss
 *                                    ◀──grad──
 *
 * With tied embeddings the first stage's embedding and the last stage's head hold the same
 * parameter: their gradients are summed between those two stages before the data-parallel
 * reduce (reduceTiedGrads), so both copies take the same step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ForwardCtx, Model } from '../models/types.ts';
import type { ProcessGroup } from '../runtime/comm/index.ts';
import type { MicroBatchRunner } from '../runtime/engine/engine.ts';
import { backwardLayers, drive, evalLayers, evalLoss, forwardLayers, lossAndGrad, readTensor, releaseKept, type KeptActivations, type LayerHooks, type MicroBatch, type TensorParallel } from '../runtime/engine/executor.ts';
import type { FlatParams } from '../runtime/engine/flat_params.ts';
import { assert } from '../errors.ts';
import { trainSchedule } from './schedule.ts';

export interface PipelineRunnerOptions {
  /** This stage's slice of the model (same config as the whole). */
  readonly stageModel: Model;
  readonly stage: number;
  readonly stages: number;
  /** The pipe group: group rank = stage index. */
  readonly pipe: ProcessGroup;
  /** The first and last stage of this pipe when the embedding is tied to the head (null otherwise). */
  readonly tied: ProcessGroup | null;
  readonly tiedParam: string;
  readonly flat: FlatParams;
  readonly recompute: boolean;
  /** This rank's tensor-parallel group (null: tp 1); every tp rank of a stage runs the same schedule. */
  readonly tp: TensorParallel | null;
}

export class PipelineRunner implements MicroBatchRunner {
  readonly wholeModelUnavailable: string;
  private readonly o: PipelineRunnerOptions;

  constructor(o: PipelineRunnerOptions) {
    this.o = o;
    this.wholeModelUnavailable = `is not built for pipeline parallelism (this rank holds stage ${o.stage} of ${o.stages}: layers ${o.stageModel.layers.map((l) => l.name).join(', ')})`;
  }

  async run(micro: readonly MicroBatch[], hooks: LayerHooks, denominator: number): Promise<{ loss: number; forwardMs: number; backwardMs: number; idleMs: number }> {
    const { stage: s, stages: P, pipe, stageModel } = this.o;
    const first = s === 0;
    const last = s === P - 1;
    const D = stageModel.config.hiddenSize;
    const ctx: ForwardCtx = { config: stageModel.config, positionOffset: 0, training: true };
    const layers = stageModel.layers;
    const recvd = new Map<number, tf.Tensor>();
    const kept = new Map<number, KeptActivations>();
    const outs = new Map<number, tf.Tensor>();
    const dys = new Map<number, tf.Tensor>();
    const dxs = new Map<number, tf.Tensor>();
    let loss = 0;
    let forwardMs = 0;
    let backwardMs = 0;
    let idleMs = 0;
    const shape = (mb: MicroBatch): [number, number, number] => [mb.batchSize, mb.seqLen, D];
    const take = (m: Map<number, tf.Tensor>, mb: number): tf.Tensor => {
      const t = m.get(mb);
      assert(t !== undefined, () => `PipelineRunner: stage ${s} has no tensor for micro-batch ${mb}`);
      m.delete(mb);
      return t;
    };
    try {
      for (const ins of trainSchedule({ microBatches: micro.length, stages: P, stage: s })) {
        const t0 = performance.now();
        switch (ins.kind) {
          case 'recvActivation': {
            const mb = micro[ins.microBatch]!;
            const buf = new Float32Array(mb.batchSize * mb.seqLen * D);
            await pipe.recv(buf, s - 1);
            recvd.set(ins.microBatch, tf.tensor3d(buf, shape(mb)));
            idleMs += performance.now() - t0;
            break;
          }
          case 'forward': {
            const mb = micro[ins.microBatch]!;
            const input = first ? tf.tensor2d(mb.input, [mb.batchSize, mb.seqLen], 'int32') : take(recvd, ins.microBatch);
            const f = await drive(forwardLayers(layers, hooks, input, ctx, this.o.recompute, this.o.tp));
            kept.set(ins.microBatch, f.kept);
            if (last) {
              try {
                const r = await drive(lossAndGrad(f.output, mb, denominator, this.o.tp));
                loss += r.loss;
                dys.set(ins.microBatch, r.dLogits);
              } finally {
                f.output.dispose();
              }
            } else outs.set(ins.microBatch, f.output);
            forwardMs += performance.now() - t0;
            break;
          }
          case 'sendActivation': {
            const out = take(outs, ins.microBatch);
            const data = await drive(readTensor(out));
            out.dispose();
            await pipe.send(data, s + 1);
            break;
          }
          case 'recvGrad': {
            const mb = micro[ins.microBatch]!;
            const buf = new Float32Array(mb.batchSize * mb.seqLen * D);
            await pipe.recv(buf, s + 1);
            dys.set(ins.microBatch, tf.tensor3d(buf, shape(mb)));
            idleMs += performance.now() - t0;
            break;
          }
          case 'backward': {
            const acts = kept.get(ins.microBatch)!;
            kept.delete(ins.microBatch);
            const dx = await drive(backwardLayers(layers, hooks, acts, take(dys, ins.microBatch), ctx, this.o.tp));
            if (dx) dxs.set(ins.microBatch, dx);
            backwardMs += performance.now() - t0;
            break;
          }
          case 'sendGrad': {
            const dx = take(dxs, ins.microBatch);
            const data = await drive(readTensor(dx));
            dx.dispose();
            await pipe.send(data, s - 1);
            break;
          }
          case 'reduceTiedGrads':
            if (this.o.tied) await this.o.tied.allReduce(this.o.flat.gradView(this.o.tiedParam), { op: 'sum' });
            break;
          case 'reduceGrads':
          case 'optimizerStep':
            break; // the ZeRO stage's endStep, after this returns
        }
      }
    } finally {
      for (const k of kept.values()) releaseKept(k);
      tf.dispose([...recvd.values(), ...outs.values(), ...dys.values(), ...dxs.values()]);
    }
    return { loss: await this.shareLoss(last ? loss : 0), forwardMs, backwardMs, idleMs };
  }

  /**
   * One batch's loss with no gradient, through the stages in turn: each receives the previous
   * stage's hidden state, runs its slice and passes it on; the last scores it. Every rank of the
   * pipe calls this with the same batch and gets the loss.
   */
  async evalLoss(batch: MicroBatch, params: Map<string, tf.Tensor>, denominator: number): Promise<number> {
    const { stage: s, stages: P, pipe, stageModel } = this.o;
    const ctx: ForwardCtx = { config: stageModel.config, positionOffset: 0, training: false };
    const shape: [number, number, number] = [batch.batchSize, batch.seqLen, stageModel.config.hiddenSize];
    let input: tf.Tensor;
    if (s === 0) input = tf.tensor2d(batch.input, [batch.batchSize, batch.seqLen], 'int32');
    else {
      const buf = new Float32Array(shape[0] * shape[1] * shape[2]);
      await pipe.recv(buf, s - 1);
      input = tf.tensor3d(buf, shape);
    }
    let out: tf.Tensor | null = null;
    let loss = 0;
    try {
      out = await drive(evalLayers(stageModel.layers, params, input, ctx, this.o.tp));
      if (s === P - 1) loss = await drive(evalLoss(out, batch, denominator, this.o.tp));
      else await pipe.send(await drive(readTensor(out)), s + 1);
    } finally {
      tf.dispose([input, ...(out ? [out] : [])]);
    }
    return this.shareLoss(loss);
  }

  /** Only the last stage has the loss: sum it along the pipe so every stage reports it. */
  private async shareLoss(loss: number): Promise<number> {
    const b = Float32Array.of(loss);
    await this.o.pipe.allReduce(b, { op: 'sum' });
    return b[0]!;
  }
}
