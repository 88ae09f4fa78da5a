/**
 * `ds bench train --tp N --pp M [--num_procs K] [--micro-batches G]`: one 3D layout beside its
 * baseline, back to back in this invocation and on the same global batch: the baseline is the
 * same data-parallel width with no tensor or pipeline split. Each row is a real run through
 * initialize() (train_rank.ts). Reported, from rank 0 (stage 0, tp rank 0):
 *   step time; the pipeline bubble measured (time stage 0 waits on its neighbours over the step)
 *   beside the 1F1B schedule's (p − 1)/(m + p − 1); bytes sent per step along each axis
 *   (data: the ZeRO stage's reduce; model: tp all-reduces; pipe: activations, gradients, tied
 *   embeddings and the loss); the final loss, which must equal the baseline's.
 */
import os from 'node:os';
import { InputError } from '../../../errors.ts';
import { theoreticalBubble } from '../../../parallel/schedule.ts';
import { formatTable } from '../../table.ts';
import { runStage, type Args, type Row } from './train.ts';

export async function layoutBench(argv: Args, stage: number | null): Promise<void> {
  const tp = argv.tp ?? 1;
  const pp = argv.pp ?? 1;
  const procs = argv.num_procs ?? tp * pp;
  if (procs % (tp * pp) !== 0) throw new InputError(`ds bench train: --num_procs ${procs} is not divisible by --tp ${tp} × --pp ${pp} = ${tp * pp}`);
  const dp = procs / (tp * pp);
  const microBatches = argv['micro-batches'] ?? (pp > 1 ? 4 * pp : undefined);
  const base = await runStage(argv, stage, argv.master_port, { microBatches }, {}, dp);
  const row = await runStage(argv, stage, argv.master_port + 1, { tp, pp, microBatches }, {}, procs);
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ config: argv.config, rows: [base, row], theoretical_bubble: theoreticalBubble(row.layout.micro_batches, pp) })}\n`);
    return;
  }
  const mib = (b: number): string => (b / 2 ** 20).toFixed(2);
  const fmt = (r: Row, label: string): (string | number)[] => {
    const { dp: d, tp: t, pp: p, micro_batches: m } = r.layout;
    const bubble = p > 1 ? `${((100 * r.pipeline_idle_ms) / r.step_ms).toFixed(1)}%` : '-';
    const theory = p > 1 ? `${(100 * theoreticalBubble(m, p)).toFixed(1)}%` : '-';
    const b = r.sent_bytes_per_step;
    return [label, `${d}×${t}×${p}`, m, r.step_ms.toFixed(0), `${(r.step_ms / base.step_ms).toFixed(2)}×`, r.tokens_per_s.toFixed(0), bubble, theory, mib(b.data), mib(b.model), mib(b.pipe), mib(r.memory.params + r.memory.grads + r.memory.optimizer), r.final_loss.toFixed(6)];
  };
  process.stdout.write(`${argv.config}: ${procs} rank(s), ${argv.steps ?? 3} timed steps after ${argv.warmup} warm-up; rank 0's figures; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} CPUs\n`);
  process.stdout.write(`${formatTable(
    ['run', 'dp×tp×pp', 'micro-batches', 'step ms', 'vs baseline', 'tokens/s', 'bubble', '(p−1)/(m+p−1)', 'data MiB/step', 'tp MiB/step', 'pipe MiB/step', 'model states MiB', 'final loss'],
    [fmt(base, 'baseline'), fmt(row, [tp > 1 ? `tp${tp}` : '', pp > 1 ? `pp${pp}` : ''].filter(Boolean).join(' '))],
  )}\n`);
  const rel = Math.abs(row.final_loss - base.final_loss) / Math.abs(base.final_loss);
  process.stdout.write(`final loss differs from the baseline's by ${rel.toExponential(1)} (relative)\n`);
}
