/**
 * 1-bit Adam as a ZeroStage: the optimizer owns its communication, and the engine, which only
 * ever calls beginStep/endStep, never learns which phase it is in.
 *
 *   warm-up (optimizer step ≤ freeze_step): exactly ZeRO stage 0 with OneBitAdam as its optimizer
 *     (the float32 bucketed gradient all-reduce, clip, Adam's step);
 *   compressed (after): no gradient all-reduce. Each rank folds its own gradient into the
 *     momentum, the momentum goes through compressedAllReduce (two-level error feedback), and
 *     every rank applies the same frozen-variance update to its identical parameters.
 *
 * In the compressed phase no rank holds the global gradient, so clipping uses what is there:
 * the norm reported (and clipped to gradient_clipping) is the RMS over ranks of each rank's
 * gradient estimate n·g_r, agreed through one scalar all-gather, which also makes an overflow
 * on any rank skip the step on all of them.
 *
 * Checkpoints: stage 0's files (parameters, exp_avg, the frozen exp_avg_sq) plus each rank's own
 * error-feedback buffers, onebit.worker_error [n·S] and onebit.server_error [S]. A resume at the
 * same world size restores them; at another world size the chunks no longer line up, so they
 * start from zero (DeepSpeed resets them on every load).
 */
import type { ProcessGroup } from '../../runtime/comm/index.ts';
import type { FlatParams } from '../../runtime/engine/flat_params.ts';
import type { FullState, MemoryReport, StepHooks, StepOutcome, ZeroLayout, ZeroStage } from '../../runtime/engine/reducer.ts';
import { clipFactor, sumSquares } from '../../runtime/optim/clip.ts';
import { log } from '../../runtime/logger.ts';
import { chunkElemsFor, compressedAllReduce, newFeedbackErrors, type FeedbackErrors } from './compressed_allreduce.ts';
import type { OneBitAdam } from './onebit_adam.ts';

/** Elements per scale in the compressed messages: 1/8 + 4/512 bytes per element, 30× under float32. */
export const ONEBIT_BLOCK_ELEMS = 512;

export class OneBitStage implements ZeroStage {
  readonly stage = 0;
  private readonly errors: FeedbackErrors;
  /** The momentum padded to n·S for the collective. */
  private readonly padded: Float32Array;
  private sent = 0;

  constructor(
    /** Stage 0 built with `optimizer` as its optimizer: it runs the warm-up steps. */
    private readonly base: ZeroStage,
    readonly optimizer: OneBitAdam,
    private readonly pg: ProcessGroup | null,
    private readonly blockElems = ONEBIT_BLOCK_ELEMS,
  ) {
    const S = chunkElemsFor(base.flat.numel, base.worldSize, blockElems);
    this.errors = newFeedbackErrors(base.worldSize, S);
    this.padded = new Float32Array(base.worldSize * S);
    this.sent = this.sentBytes();
  }

  get worldSize(): number {
    return this.base.worldSize;
  }

  get flat(): FlatParams {
    return this.base.flat;
  }

  sumScalar(x: number): Promise<number> {
    return this.base.sumScalar(x);
  }

  beginStep(): StepHooks {
    return this.base.beginStep();
  }

  async endStep(lr: number, maxNorm: number): Promise<StepOutcome> {
    if (!this.optimizer.frozen) {
      const r = await this.base.endStep(lr, maxNorm);
      if (this.optimizer.frozen) {
        log.info(`OneBitAdam: step ${this.optimizer.state().step} ended the warm-up (freeze_step): variance frozen, the gradient all-reduce is off, the momentum goes through the 1-bit compressed all-reduce`);
      }
      return { gradNorm: r.gradNorm, overflow: r.overflow, commBytes: this.takeSent() };
    }
    const { gradNorm, overflow } = await this.compressedStep(lr, maxNorm);
    return { gradNorm, overflow, commBytes: this.takeSent() };
  }

  /** Bytes sent since the last step ended (the engine's scalar sums of this step included). */
  private takeSent(): number {
    const now = this.sentBytes();
    const d = now - this.sent;
    this.sent = now;
    return d;
  }

  private async compressedStep(lr: number, maxNorm: number): Promise<{ gradNorm: number; overflow: boolean }> {
    const { flat, worldSize: n } = this;
    const grads = flat.grads.subarray(0, flat.numel);
    // Each rank's gradient is its share of the global mean (the engine divides by the global
    // token count): n·g_r estimates the whole gradient.
    const gradNorm = Math.sqrt((await this.sumScalar(sumSquares(grads) * n * n)) / n);
    if (!Number.isFinite(gradNorm)) return { gradNorm, overflow: true };
    const opt = this.optimizer;
    opt.momentumStep(grads, n * clipFactor(gradNorm, maxNorm));
    if (this.pg && n > 1) {
      opt.scaledMomentum(this.padded);
      this.padded.fill(0, flat.numel);
      await compressedAllReduce(this.pg, this.padded, this.errors, this.blockElems);
      opt.setScaledMomentum(this.padded);
    }
    opt.applyFrozen(flat.data, lr, flat.segments);
    return { gradNorm, overflow: false };
  }

  memoryReport(): MemoryReport {
    const r = this.base.memoryReport();
    const buffers = r.buffers + this.errors.worker.byteLength + this.errors.server.byteLength + this.padded.byteLength + this.optimizer.cacheBytes;
    return { ...r, buffers, total: r.total - r.buffers + buffers };
  }

  checkpointFiles(): { files: Record<string, Float32Array>; layout: ZeroLayout } {
    const { files, layout } = this.base.checkpointFiles();
    return { files: { ...files, 'onebit.worker_error': this.errors.worker, 'onebit.server_error': this.errors.server }, layout };
  }

  loadFull(state: FullState): void {
    this.base.loadFull(state);
  }

  /** This rank's own saved files (null: saved at another world size): the error-feedback buffers. */
  loadRankFiles(files: Readonly<Record<string, unknown>> | null): void {
    const w = files?.['onebit.worker_error'];
    const s = files?.['onebit.server_error'];
    const { worker, server } = this.errors;
    if (w instanceof Float32Array && s instanceof Float32Array && w.length === worker.length && s.length === server.length) {
      worker.set(w);
      server.set(s);
      return;
    }
    worker.fill(0);
    server.fill(0);
    if (this.optimizer.frozen) log.warn('OneBitAdam: the checkpoint has no error-feedback buffers for this world size; they start from zero (as DeepSpeed always does on load)');
  }

  private sentBytes(): number {
    return this.pg?.stats().total.sentBytes ?? 0;
  }
}
