/**
 * The README's "your own training script", run as a new user runs it: saved as train.ts in a
 * folder with no package.json, importing deepscale by its package name, under ds-launch on
 * 2 ranks, on a dataset from `ds data prepare`. Everything it prints and writes comes from the
 * engine: the script itself has no printing, no monitors and no profiler.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import JSON5 from 'json5';
import { prepareDataset } from '../../../src/data/arrow/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const STEPS = 4;

/** The ```LANG block under "## Your own training script" in README.md. */
function readmeBlock(lang: 'ts' | 'json5'): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Your own training script'));
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  if (!m) throw new Error(`README.md: no \`\`\`${lang} block under "## Your own training script"`);
  return m[1]!;
}

/** Plain English-like text, deterministic: enough rows for a train and a validation split. */
function corpus(): string {
  const words = 'the quick brown fox jumps over a lazy dog while seven small birds sing in the old oak tree near the river bank'.split(' ');
  const lines: string[] = [];
  let x = 7;
  for (let i = 0; i < 400; i++) {
    const n = 6 + (i % 7);
    const w: string[] = [];
    for (let j = 0; j < n; j++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      w.push(words[x % words.length]!);
    }
    lines.push(w.join(' ') + '.');
  }
  return lines.join('\n') + '\n';
}

describe("the README's own-script quickstart under ds-launch (2 ranks)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-user-'));
  const user = path.join(dir, 'project'); // no package.json here or above (os.tmpdir())
  let stderr = '';
  let stdout = '';

  beforeAll(async () => {
    fs.mkdirSync(user);
    fs.writeFileSync(path.join(dir, 'corpus.txt'), corpus());
    await prepareDataset({ input: path.join(dir, 'corpus.txt'), tokenizer: 'train:300', seqLen: 16, out: path.join(user, 'data'), valFraction: 0.1, seed: 3 });
    fs.writeFileSync(path.join(user, 'train.ts'), readmeBlock('ts'));
    // The README's ds.json5, shrunk to test size, with every monitor on and writing here.
    const readmeConfig = JSON5.parse(readmeBlock('json5')) as Record<string, unknown>;
    fs.writeFileSync(
      path.join(user, 'ds.json'),
      JSON.stringify({
        ...readmeConfig,
        train_batch_size: 8,
        steps_per_print: 2,
        wall_clock_breakdown: true,
        memory_breakdown: true,
        optimizer: { type: 'AdamW', params: { lr: 3e-3 } },
        csv_monitor: { enabled: true, output_path: path.join(user, 'runs'), job_name: 'mine' },
        tensorboard: { enabled: true, output_path: path.join(user, 'runs'), job_name: 'mine_tb' },
        flops_profiler: { enabled: true, profile_step: 3 },
        model: { hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32 },
        data: { task: 'arrow', path: 'data' },
        train: { steps: STEPS },
      }),
    );
    const r = await promisify(execFile)('node', [path.join(ROOT, 'bin/ds-launch.js'), '--num_procs', '2', '--master_port', String(29950 + Math.floor(Math.random() * 40)), '--config', 'ds.json', 'train.ts'], {
      cwd: user,
      encoding: 'utf8',
      timeout: 180_000,
    });
    stdout = r.stdout;
    stderr = r.stderr;
  }, 200_000);

  it('the engine prints the step line every steps_per_print, with the wall-clock and memory breakdowns', () => {
    for (const s of [2, 4]) expect(stderr).toMatch(new RegExp(`step ${s}/${STEPS} \\| loss \\d+\\.\\d+`));
    expect(stderr).not.toMatch(/step 3\/4 \| loss/);
    expect(stderr.match(/time \(ms, mean of 2 steps\) \| fwd: [\d.]+ \| bwd: [\d.]+ \| comm: [\d.]+ \| step: [\d.]+/g)).toHaveLength(2);
    expect(stderr).toMatch(/memory: rss [\d.]+ MiB \| heap .* \| ZeRO-0 model states: params [\d.]+ MiB, grads [\d.]+ MiB, optimizer [\d.]+ MiB/);
  });

  it('runs the flops profiler at profile_step: one row per layer, parameters adding up to the model', () => {
    expect(stderr).toMatch(/Profile Summary at step 3:/);
    const rows = [...stderr.matchAll(/\((embed|layers\.0\.attn|layers\.0\.mlp|lm_head)[^)]*\): ([\d.]+) (K?) ?/g)];
    expect(rows.map((r) => r[1])).toEqual(['embed', 'layers.0.attn', 'layers.0.mlp', 'lm_head']);
    // attn: norm 32 + q 32·32 + k,v 2·16·32 + o 32·32 = 3104 parameters
    expect(stderr).toMatch(/\(layers\.0\.attn\): 3\.10 K, /);
    expect(stderr).toMatch(/fwd MACs per rank: +[\d.]+ [KMG]/);
  });

  it('writes the csv monitor and tensorboard event files from rank 0', () => {
    const csv = fs.readFileSync(path.join(user, 'runs/mine/metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('step,loss,lr,grad_norm,tokens_per_s,forward_ms,backward_ms,comm_ms,optimizer_ms');
    expect(csv.slice(1).map((l) => Number(l.split(',')[0]))).toEqual([1, 2, 3, 4]);
    const tb = fs.readdirSync(path.join(user, 'runs/mine_tb'));
    expect(tb).toHaveLength(1);
    expect(tb[0]).toMatch(/^events\.out\.tfevents\./);
  });

  it('evaluates on the validation split and saves a checkpoint with the model config, tokenizer and client state', () => {
    const m = /validation loss ([\d.]+), perplexity ([\d.]+)/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeCloseTo(Math.exp(Number(m![1])), 0);
    const tag = path.join(user, 'ckpt/final');
    const meta = JSON.parse(fs.readFileSync(path.join(tag, 'meta.json'), 'utf8'));
    expect(meta.model_config).toMatchObject({ hiddenSize: 32, numHeads: 4, numKvHeads: 2, vocabSize: 300 });
    expect(meta.client_state).toEqual({ note: 'client state comes back from load_checkpoint' });
    expect(meta.data_loader).toMatchObject({ worldSize: 2, microBatchSize: 4 });
    expect(JSON.parse(fs.readFileSync(path.join(tag, 'tokenizer.json'), 'utf8')).model.type).toBe('BPE');
  });
});
