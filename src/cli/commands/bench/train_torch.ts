/**
 * `ds bench train --compare-torch`: the same architecture, micro-batch, sequence length and AdamW
 * trained by PyTorch in eager mode on this CPU (torch_train.py), in the same run as deepscale's
 * rows. A benchmark, not a test: where /usr/bin/python3 has no torch it skips and says why.
 * Debian's torch multiplies through the system libblas.so.3: with only the reference BLAS there
 * (BLAS_INFO=generic) its matmuls run at a few GFLOP/s; `apt-get install libopenblas0-pthread`
 * gives it OpenBLAS, the peer a user would have. The row prints torch's 1024³ rate so it shows.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../../../runtime/config/index.ts';
import { modelConfigFromDs } from '../../../runtime/config/index.ts';

const SCRIPT = fileURLToPath(new URL('./torch_train.py', import.meta.url));
export const TORCH_PYTHON = '/usr/bin/python3';

export interface TorchRow {
  readonly step_ms: number;
  readonly tokens_per_s: number;
  readonly final_loss: number;
  readonly params: number;
  readonly sgemm_gflops: number;
  readonly threads: number;
  readonly torch: string;
}

export type TorchResult = { readonly ok: true; readonly row: TorchRow } | { readonly ok: false; readonly why: string };

/**
 * PyTorch on one thread and on every core (OpenMP's spinning barrier can make more threads slower
 * on a loaded machine): both rows, the faster is the peer deepscale is compared against.
 */
export async function runTorchPeers(configPath: string, steps: number, warmup: number): Promise<TorchResult[]> {
  const cores = os.availableParallelism();
  const results = [await runTorch(configPath, steps, warmup, 1)];
  if (cores > 1 && results[0]!.ok) results.push(await runTorch(configPath, steps, warmup, cores));
  return results;
}

/** Trains the config's model in PyTorch for `warmup` + `steps` steps on `threads` threads (default: every core). */
export async function runTorch(configPath: string, steps: number, warmup: number, threads = os.availableParallelism()): Promise<TorchResult> {
  const cfg = loadConfig(configPath, { worldSize: 1 });
  const m = modelConfigFromDs(cfg, cfg.model?.vocab_size ?? 258, { bos: null, eos: null });
  if (m.headDim * m.numHeads !== m.hiddenSize) return { ok: false, why: `torch peer assumes head_dim = hidden/heads, config has ${m.headDim}` };
  const lr = (cfg.optimizer?.params as { lr?: number } | undefined)?.lr ?? 1e-3;
  const seq = (cfg as unknown as { data?: { seq_len?: number } }).data?.seq_len ?? m.maxPositionEmbeddings;
  const args = {
    vocab: m.vocabSize, hidden: m.hiddenSize, inter: m.intermediateSize, layers: m.numLayers, heads: m.numHeads, kv_heads: m.numKvHeads,
    seq, batch: cfg.train_micro_batch_size_per_gpu, lr, steps, warmup, threads,
  };
  try {
    // OpenBLAS keeps its own thread pool, which torch.set_num_threads does not size.
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
    const { stdout } = await promisify(execFile)(TORCH_PYTHON, [SCRIPT, JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 20, env });
    return { ok: true, row: JSON.parse(stdout.trim().split('\n').pop()!) as TorchRow };
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') return { ok: false, why: `${TORCH_PYTHON} not found` };
    if (/No module named 'torch'/.test(err.stderr ?? '')) return { ok: false, why: `${TORCH_PYTHON} has no torch (apt-get install -y python3-torch)` };
    return { ok: false, why: `the torch run failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ')}` };
  }
}

/** Per thread count, the faster of two rounds of runTorchPeers (a failed run loses to any). */
export function fasterTorch(a: readonly TorchResult[], b: readonly TorchResult[]): TorchResult[] {
  return a.map((x, i) => {
    const y = b[i];
    if (!y || !y.ok) return x;
    return !x.ok || y.row.tokens_per_s > x.row.tokens_per_s ? y : x;
  });
}

/** Each torch run, then one line per deepscale row: its tokens/s over the faster torch run's. */
export function formatTorch(results: readonly TorchResult[], rows: readonly { stage: number; tokens_per_s: number }[]): string {
  const first = results[0];
  if (!first || !first.ok) return `--compare-torch skipped: ${first?.why ?? 'no run'}`;
  const ok = results.flatMap((t) => (t.ok ? [t.row] : []));
  const best = ok.reduce((a, b) => (b.tokens_per_s > a.tokens_per_s ? b : a));
  return [
    ...ok.map((r) => `PyTorch ${r.torch} eager, ${r.threads} thread(s): ${r.tokens_per_s.toFixed(0)} tokens/s (${r.step_ms.toFixed(0)} ms/step, Ψ = ${r.params}), its 1024³ matmul ${r.sgemm_gflops.toFixed(1)} GFLOP/s`),
    ...results.flatMap((t) => (t.ok ? [] : [`a torch run failed: ${t.why}`])),
    ...rows.map((x) => `stage ${x.stage}: deepscale ${x.tokens_per_s.toFixed(0)} tokens/s = ${(x.tokens_per_s / best.tokens_per_s).toFixed(2)}× PyTorch's faster run (${best.threads} thread(s))`),
  ].join('\n');
}
