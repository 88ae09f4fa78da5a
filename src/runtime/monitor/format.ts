/** Text for the training loop's step lines: the numbers a user reads every steps_per_print steps. */

export interface StepLine {
  step: number;
  /** Total steps; omitted → "step 10". */
  total?: number;
  loss?: number;
  lr?: number;
  tokensPerSec?: number;
  gradNorm?: number;
}

/** "step 10/100 | loss 1.234 | lr 1.0e-3 | 5400 tok/s | grad_norm 0.8" (absent fields left out). */
export function formatStepLine(s: StepLine): string {
  const parts = [s.total === undefined ? `step ${s.step}` : `step ${s.step}/${s.total}`];
  if (s.loss !== undefined) parts.push(`loss ${formatLoss(s.loss)}`);
  if (s.lr !== undefined) parts.push(`lr ${formatLr(s.lr)}`);
  if (s.tokensPerSec !== undefined) parts.push(`${formatRate(s.tokensPerSec)} tok/s`);
  if (s.gradNorm !== undefined) parts.push(`grad_norm ${formatSig(s.gradNorm)}`);
  return parts.join(' | ');
}

/** Three decimals: losses of a language model live in 0.01 … 12. */
export function formatLoss(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : String(x);
}

/** 1.0e-3 */
export function formatLr(x: number): string {
  return Number.isFinite(x) ? x.toExponential(1) : String(x);
}

/** Whole tokens per second. */
export function formatRate(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x)) : String(x);
}

/** Three significant digits, trailing zeros dropped: 0.8, 12.3, 1230. */
export function formatSig(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}

/** 45s, 3m05s, 1h02m: for ETAs. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
