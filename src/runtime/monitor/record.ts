/** One training step as the metric logs store it (snake_case: these are file columns). */
export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm?: number;
  tokens_per_s?: number;
  /** wall_clock_breakdown timings, when on: WallClock.endStep() gives these keys. */
  forward_ms?: number;
  backward_ms?: number;
  comm_ms?: number;
  optimizer_ms?: number;
}

/** The CSV columns, in order; a record's other keys are not written to CSV (JSONL keeps them). */
export const COLUMNS = ['step', 'loss', 'lr', 'grad_norm', 'tokens_per_s', 'forward_ms', 'backward_ms', 'comm_ms', 'optimizer_ms'] as const;
