/**
 * DeepSpeed's warm-up fraction at batch iteration `it` (= optimizer step − 1) of `n` warm-up
 * steps: log → ln(it + 1) / ln(n), linear → it / n; 1 from it = n on. DeepSpeed raises n to
 * at least 2 so ln(n) > 0.
 */
export function warmupGamma(it: number, n: number, type: 'log' | 'linear'): number {
  if (it >= n) return 1;
  return type === 'linear' ? it / n : Math.log(it + 1) / Math.log(n);
}

/** DeepSpeed's max(2, warmup_num_steps), default 1000. */
export function warmupSteps(n: number | undefined): number {
  return Math.max(2, n ?? 1000);
}
