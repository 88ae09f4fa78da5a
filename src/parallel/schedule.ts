/**
 * The synchronous 1F1B pipeline schedule (PipeDream-flush; DeepSpeed's TrainSchedule) as a pure
 * function: the instructions one stage runs for one optimizer step of `microBatches` micro-batches
 * over `stages` stages. No tensors, no sockets: the executor interprets the list.
 *
 * Stage s first runs min(P − 1 − s, M) forwards (warm-up), then alternates one forward with one
 * backward (steady state), then drains the remaining backwards (cool-down), so at most P − s
 * micro-batches' activations are alive on stage s at once. With P = 3, M = 4 (F = forward,
 * B = backward, one column per time unit when both cost one):
 *
 *   stage 0:  F0 F1 F2 .  .  B0 F3 B1 .  B2 .  B3
 *   stage 1:  .  F0 F1 .  B0 F2 B1 F3 B2 .  B3 .
 *   stage 2:  .  .  F0 B0 F1 B1 F2 B2 F3 B3 .  .
 *
 * Sends are buffered (a send returns once its bytes are handed off), receives block; with that,
 * running each stage's list in order cannot deadlock (tested by simulation in test/parallel).
 */

export type Instruction =
  | { readonly kind: 'recvActivation' | 'forward' | 'sendActivation' | 'recvGrad' | 'backward' | 'sendGrad'; readonly microBatch: number }
  | { readonly kind: 'reduceTiedGrads' | 'reduceGrads' | 'optimizerStep' };

export function trainSchedule(opts: { readonly microBatches: number; readonly stages: number; readonly stage: number }): Instruction[] {
  const { microBatches: M, stages: P, stage: s } = opts;
  if (!Number.isInteger(M) || M < 1) throw new RangeError(`trainSchedule: microBatches must be a positive integer, got ${M}`);
  if (!Number.isInteger(P) || P < 1) throw new RangeError(`trainSchedule: stages must be a positive integer, got ${P}`);
  if (!Number.isInteger(s) || s < 0 || s >= P) throw new RangeError(`trainSchedule: stage ${s} is outside [0, ${P})`);
  const first = s === 0;
  const last = s === P - 1;
  const out: Instruction[] = [];
  const forward = (mb: number): void => {
    if (!first) out.push({ kind: 'recvActivation', microBatch: mb });
    out.push({ kind: 'forward', microBatch: mb });
    if (!last) out.push({ kind: 'sendActivation', microBatch: mb });
  };
  const backward = (mb: number): void => {
    if (!last) out.push({ kind: 'recvGrad', microBatch: mb });
    out.push({ kind: 'backward', microBatch: mb });
    if (!first) out.push({ kind: 'sendGrad', microBatch: mb });
  };
  const warmup = Math.min(P - 1 - s, M);
  for (let i = 0; i < warmup; i++) forward(i);
  for (let j = 0; j < M - warmup; j++) {
    forward(warmup + j);
    backward(j);
  }
  for (let b = M - warmup; b < M; b++) backward(b);
  // Tied weights (embedding and LM head on the first and last stage) sum their gradients between
  // those stages, then the data-parallel reduce, then the step: the same order on every stage.
  out.push({ kind: 'reduceTiedGrads' }, { kind: 'reduceGrads' }, { kind: 'optimizerStep' });
  return out;
}

/** The idle share of a step in an ideal pipeline (forward and backward of equal cost on every stage). */
export function theoreticalBubble(microBatches: number, stages: number): number {
  return (stages - 1) / (microBatches + stages - 1);
}
