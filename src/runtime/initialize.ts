import { join } from 'node:path';
import { buildLlama } from '../models/llama.ts';
import type { Model, ModelConfig } from '../models/types.ts';
import { openTrainingData, evaluateLoss, validationNote, type TrainingData, type EvaluateResult } from '../data/arrow/index.ts';
import { loadTokenizer, tokenizerFiles } from '../data/tokenizer/io.ts';
import type { Tokenizer } from '../data/tokenizer/types.ts';
import { initBackend, type BackendInfo } from './backend/index.ts';
import { initProcessGroup, readDistEnv, type DistEnv, type ProcessGroup } from './comm/index.ts';
import { loadConfig, modelConfigFromDs, type DsConfig } from './config/index.ts';
import { refuseForBackend } from './config/refusals.ts';
import { Engine } from './engine/engine.ts';
import { createZeroStage, modelParallelNorm } from '../zero/index.ts';
import { setupCompression } from '../compress/setup.ts';
import { createOneBitStage } from '../compress/onebit/index.ts';
import { log } from './logger.ts';
import { Topology } from '../parallel/topology.ts';
import { initializeLikeWholeModel, parallelPlace, pipelineRunner, pipelinePartition } from '../parallel/pipeline_setup.ts';
import { EngineMonitor } from './monitor/engine_monitor.ts';
import { ConfigError, InputError, NotImplementedError } from '../errors.ts';
import { baseLr, createOptimizer, createScheduler } from './optim/index.ts';

export interface InitializeOptions {
  /**
   * Path to a .json/.json5 config, or the config object. Default: the `--config PATH` that
   * ds-launch appends to the script's arguments (as DeepSpeed's --deepspeed_config), or DS_CONFIG.
   */
  readonly config?: string | object;
  /**
   * The model, its config, or a function of the validated config (and the training data's
   * tokenizer, when there is one) that builds either. Default: the config's `model` block, with
   * the vocabulary of the training data's tokenizer.
   */
  readonly model?: Model | ModelConfig | ((cfg: DsConfig, tokenizer: Tokenizer | null) => Model | ModelConfig);
  /**
   * DeepSpeed's training_data: a dataset dir written by `ds data prepare`. Default: the config's
   * data.path when data.task is "arrow".
   */
  readonly trainingData?: string;
  /** Saved with every checkpoint (so export and serving get it). Default: the training data's tokenizer. */
  readonly tokenizer?: Tokenizer;
  /** Steps of the run, overriding train.steps (a script's --steps flag): the progress bar's total. */
  readonly steps?: number;
  /** Environment to read the rank from (default process.env: RANK/WORLD_SIZE, Open MPI, Slurm or PMI). */
  readonly env?: NodeJS.ProcessEnv;
}

/** What a rank's script works with: the engine plus where it runs. */
export interface TrainingRuntime {
  readonly engine: Engine;
  readonly config: DsConfig;
  readonly dist: DistEnv;
  readonly pg: ProcessGroup | null;
  readonly backend: BackendInfo;
  readonly tokenizer: Tokenizer | null;
  /** This rank's place on the data-parallel axis (the whole world without pipeline stages): shard a script's own data by it. */
  readonly dataParallel: { readonly rank: number; readonly size: number };
  /**
   * The training data's loader, sharded by data-parallel rank (DeepSpeed's training_dataloader);
   * its position is saved in checkpoints and restored by load_checkpoint. null without training data.
   */
  readonly trainingData: TrainingData | null;
  /** Steps of the whole run: train.steps, or train.epochs over the training data; null when neither is set. */
  readonly totalSteps: number | null;
  /** Mean loss and perplexity over the validation split (all ranks; each scores its share). */
  evaluate(opts?: { maxBatches?: number }): Promise<EvaluateResult>;
  /** The pipe × data × model grid this rank is in, and the bytes it has sent along each axis. */
  readonly grid: ParallelGrid;
  /** Leaves the process group (call at the end of the script). */
  close(): Promise<void>;
}

export interface ParallelGrid {
  readonly dp: number;
  readonly tp: number;
  readonly pp: number;
  /** This rank's coordinates (pipe stage, data replica, tp rank). */
  readonly coord: { readonly pipe: number; readonly data: number; readonly model: number };
  /** Bytes this rank has sent so far in each axis's collectives (model: the tp all-reduces and the kv-replica sums; pipe: activations, gradients, tied embeddings, the loss; the clipping norm's one float per step is not counted). */
  sentBytes(): { readonly data: number; readonly model: number; readonly pipe: number };
}

/**
 * DeepSpeed's initialize(): reads this rank's place in the job, validates the config once, picks
 * the tensor backend, joins the process group, and builds the engine with its optimizer,
 * scheduler, monitors and (with training data) its data loader. Parameters start equal on every
 * rank (same seed, then a broadcast from rank 0).
 */
export async function initialize(opts: InitializeOptions = {}): Promise<TrainingRuntime> {
  const env = opts.env ?? process.env;
  const dist = readDistEnv(env, { allowSingle: true });
  // ds-launch's local launcher prefixes each rank's lines itself.
  log.configure({ rank: dist.rank, worldSize: dist.worldSize, prefix: env.DS_LAUNCHER !== 'local' });
  const config = loadConfig(opts.config ?? configFromArgs(process.argv, env), { worldSize: dist.worldSize });
  const backend = await initBackend({ force: config.backend });
  refuseForBackend(config, backend.name);
  log.info(`deepscale: backend ${backend.name}${backend.simd ? ' (SIMD)' : ''}, rank ${dist.rank}/${dist.worldSize}, compute float32${config.precision.wire !== 'fp32' ? `, ${config.precision.wire} on the wire` : ''}`);
  if (config.dump_state) log.info(`config (${config.source}), as validated with every default filled:\n${JSON.stringify(config, null, 2)}`);

  // The data axis of the pipe × data × model grid: the ranks of one pipe and one tp group read the same micro-batches.
  const tpSize = tensorParallelSize(config);
  const topology = Topology.fromWorld(dist.worldSize, tpSize, config.pipeline.stages);
  const dp = { rank: topology.coordOf(dist.rank).data, size: topology.data };
  const dataDir = opts.trainingData ?? (config.data.task === 'arrow' ? config.data.path : undefined);
  if (config.data.task === 'arrow' && dataDir === undefined) throw new InputError(`${config.source}: data.task "arrow" needs data.path (a dir from ds data prepare) or initialize({ trainingData })`);
  const trainingData = dataDir === undefined ? null : openTrainingData(dataDir, {
    rank: dp.rank, worldSize: dp.size, microBatchSize: config.train_micro_batch_size_per_gpu, seed: config.seed, seqLen: config.data.seq_len,
  });
  const tokenizer = opts.tokenizer ?? (trainingData ? loadTokenizer(join(trainingData.dataset.dir, trainingData.dataset.manifest.tokenizer)) : null);
  const model = buildModel(opts.model, config, tokenizer);
  if (trainingData && trainingData.seqLen > model.config.maxPositionEmbeddings)
    throw new InputError(`${dataDir}: rows of ${trainingData.seqLen} tokens are longer than the model's max_position_embeddings ${model.config.maxPositionEmbeddings}`);

  const pg = dist.worldSize > 1
    ? await initProcessGroup({ rank: dist.rank, worldSize: dist.worldSize, masterAddr: dist.masterAddr, masterPort: dist.masterPort, timeoutMs: config.comm_timeout_s * 1000 })
    : null;

  const totalSteps = opts.steps ?? config.train.steps ?? (config.train.epochs !== undefined && trainingData
    ? Math.max(1, Math.floor((config.train.epochs * trainingData.stepsPerEpoch) / config.gradient_accumulation_steps))
    : null);
  if (config.train.epochs !== undefined && !trainingData)
    throw new InputError(`${config.source}: train.epochs counts passes over training data; give initialize({ trainingData }) or data.path, or use train.steps`);

  const schedule = createScheduler(config.scheduler, baseLr(config.optimizer));
  if (schedule.betasAt && config.optimizer?.type === 'SGD')
    throw new ConfigError('scheduler.params.cycle_momentum', `cycles Adam's beta1; with SGD set it to false (SGD momentum cycling is not built) (${config.source})`);
  // The ZeRO stage owns parameters, gradients and optimizer state (seeded, broadcast from rank 0);
  // 1-bit Adam owns its communication, so it comes with its own stage.
  // Pipeline and tensor parallelism: this rank runs one stage's slice of the layers, each on its
  // tensor-parallel part; its ZeRO stage spans the data axis only.
  const layout = config.pipeline.stages > 1 || tpSize > 1
    ? parallelPlace({ pg: pg!, worldSize: dist.worldSize, rank: dist.rank, stages: config.pipeline.stages, partition: pipelinePartition(config), tp: tpSize, model })
    : null;
  // The clipping norm of a replica spread over stages and tp ranks: the partial sums of all its
  // ranks (this data coordinate), each shared part counted once (zero/norm.ts).
  const replica = (t: Topology, data: number): number[] => Array.from({ length: t.pipe * t.model }, (_, i) => t.rankOf({ pipe: Math.floor(i / t.model), data, model: i % t.model }));
  const place = layout
    ? {
        pg: layout.dataPg, rank: dp.rank, worldSize: dp.size, model: layout.stageModel, seed: config.seed, wire: config.precision.wire,
        modelParallel: modelParallelNorm(pg!.newGroup(replica(layout.topology, layout.coord.data)), { tpRank: layout.coord.model, earlierLayers: model.layers.slice(0, layout.bounds[layout.stage]) }),
      }
    : { pg, rank: dist.rank, worldSize: dist.worldSize, model, seed: config.seed, wire: config.precision.wire };
  const betasAt = schedule.betasAt ? (s: number) => schedule.betasAt!(s) : undefined;
  const opt = config.optimizer;
  const stage = opt?.type === 'OneBitAdam'
    ? await createOneBitStage(opt.params, config.zero_optimization, place, { betasAt })
    : await createZeroStage(config.zero_optimization, { ...place, createOptimizer: (n) => createOptimizer(opt, n, { betasAt }), optimizerBlock: opt, betasAt });
  if (layout) initializeLikeWholeModel(model, config.seed, stage);
  // QAT decorates the stage; distillation brings a frozen teacher and its loss (src/compress).
  const compression = await setupCompression(config, { model, stage, tokenizer, stepNow: () => engine.step });
  const ckpt = config.train.checkpoint;
  const ckptDir = ckpt.dir ?? join(config.train.out_dir, 'checkpoints');
  // The monitor needs the engine (for the profiler) and the engine calls the monitor: tie the knot late.
  let monitor: EngineMonitor | null = null;
  const engine = new Engine(
    layout ? layout.stageModel : model, // this rank's layers: its stage's, each on its tp part
    {
      gradAccumSteps: config.gradient_accumulation_steps,
      gradientClipping: config.gradient_clipping,
      seed: config.seed,
      lrAt: (s) => schedule.lrAt(s),
      stage: compression.stage,
      loss: compression.loss,
      recompute: config.activation_checkpointing.enabled === true,
      runner: layout && config.pipeline.stages > 1 ? pipelineRunner(layout, stage, config.activation_checkpointing.enabled === true) : undefined,
      tensorParallel: layout?.tp ?? null,
      place: {
        rank: dist.rank,
        worldSize: dist.worldSize,
        barrier: pg ? () => pg.barrier() : undefined,
        weightDtype: config.precision.storage,
        keepLast: ckpt.keep_last,
        grid: { sizes: { pipe: topology.pipe, data: topology.data, model: topology.model }, coord: topology.coordOf(dist.rank) },
      },
      checkpointFiles: tokenizer?.toTokenizerJson ? tokenizerFiles(tokenizer, { withConfig: true }) : undefined,
      onStep: async (r) => {
        await monitor?.onStep(r);
        if (ckpt.save_every > 0 && r.step % ckpt.save_every === 0) await engine.saveCheckpoint(ckptDir);
        const every = config.train.eval_every;
        if (every > 0 && trainingData && r.step % every === 0) {
          const ev = await evaluate({ maxBatches: evalBatches });
          log.info(`step ${r.step}: validation loss ${ev.loss.toFixed(4)} | perplexity ${ev.perplexity.toFixed(2)} (${ev.tokens} tokens)`);
        }
      },
    },
  );
  if (trainingData) engine.attachDataLoader({ next: () => trainingData.next(), state: () => trainingData.state(), restore: (s) => trainingData.restore(s as never) });

  // Validation: the split beside the training rows, each rank its share; eval_samples caps the rows.
  // A dataset prepared with no validation rows still trains; evaluate() then says why it cannot.
  const noValidation = trainingData && trainingData.dataset.manifest.splits.validation.rows === 0
    ? `${dataDir} has no validation rows${validationNote(trainingData.dataset.manifest) ? ` (${validationNote(trainingData.dataset.manifest)})` : ''}`
    : null;
  if (noValidation && config.train.eval_every > 0) throw new ConfigError('train.eval_every', `is ${config.train.eval_every}, but ${noValidation}; prepare the data with a validation split (ds data prepare --val-fraction) or set eval_every 0`);
  const validation = dataDir === undefined || noValidation ? null : openTrainingData(dataDir, {
    rank: dp.rank, worldSize: dp.size, microBatchSize: config.train_micro_batch_size_per_gpu, seed: config.seed, split: 'validation', shuffle: false,
  });
  const evalBatches = Math.max(1, Math.ceil(config.train.eval_samples / (config.train_micro_batch_size_per_gpu * dp.size)));
  const evaluate = async (o: { maxBatches?: number } = {}): Promise<EvaluateResult> => {
    if (noValidation) throw new InputError(`evaluate(): ${noValidation}`);
    if (!validation) throw new InputError('evaluate(): there is no training data, so no validation split (give initialize({ trainingData }))');
    await engine.gatherParams(); // ZeRO-3: every rank gathers the whole model for the evaluation
    try {
      // Every rank of a pipe and of a tp group scores the same batch; the data axis sums the replicas' shares.
      const sumPg = layout ? layout.dataPg : pg;
      return await evaluateLoss(validation, (mb) => engine.evalBatch(mb), {
        maxBatches: o.maxBatches,
        sum: sumPg ? async (v) => { const b = Float32Array.from(v); await sumPg.allReduce(b, { op: 'sum' }); return b; } : undefined,
      });
    } finally {
      engine.releaseParams();
    }
  };

  monitor = new EngineMonitor(config, {
    rank: dist.rank,
    worldSize: dist.worldSize,
    dpSize: dp.size,
    tpSize,
    ppSize: config.pipeline.stages,
    stage: topology.coordOf(dist.rank).pipe,
    totalSteps,
    startStep: 0,
    samplesPerStep: config.train_batch_size,
    profile: () => engine.profileLastBatch(),
    memory: () => {
      const m = engine.memoryReport();
      const mib = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
      return `ZeRO-${m.stage} model states: params ${mib(m.params)}, grads ${mib(m.grads)}, optimizer ${mib(m.optimizer)}, buffers ${mib(m.buffers)}; parameter tensors during a step ${mib(m.stepTensors)}`;
    },
  });
  for (const f of monitor.files) log.info(`monitor: writing ${f}`);
  const sent = (g: ProcessGroup | null | undefined): number => g?.stats().total.sentBytes ?? 0;
  const grid: ParallelGrid = {
    dp: dp.size,
    tp: tpSize,
    pp: config.pipeline.stages,
    coord: topology.coordOf(dist.rank),
    sentBytes: () => layout
      ? { data: sent(layout.dataPg), model: layout.tpGroups.reduce((n, g) => n + sent(g), 0), pipe: sent(layout.pipePg) + sent(layout.tiedPg) }
      : { data: sent(pg), model: 0, pipe: 0 },
  };
  return {
    engine,
    config,
    dist,
    pg,
    grid,
    backend,
    tokenizer,
    dataParallel: dp,
    trainingData,
    totalSteps,
    evaluate,
    close: async () => {
      monitor?.close();
      compression.teacher?.dispose();
      if (pg) {
        await pg.barrier();
        await pg.destroy();
      }
    },
  };
}

function configFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const i = argv.lastIndexOf('--config');
  const path = i >= 0 ? argv[i + 1] : env.DS_CONFIG;
  if (path === undefined || path === '') throw new InputError('initialize: no config given: pass initialize({ config }), or run the script with --config PATH (ds-launch --config does)');
  return path;
}

function buildModel(spec: InitializeOptions['model'], config: DsConfig, tokenizer: Tokenizer | null): Model {
  const m = typeof spec === 'function' ? spec(config, tokenizer) : spec ?? defaultModel(config, tokenizer);
  return 'layers' in m ? m : buildLlama(m);
}

function defaultModel(config: DsConfig, tokenizer: Tokenizer | null): ModelConfig {
  if (!tokenizer) throw new InputError(`initialize: no model given and no training data to take a vocabulary from; pass model (a Model, a ModelConfig or a function of the config) or trainingData`);
  return modelConfigFromDs(config, tokenizer.vocabSize, tokenizer.special);
}

function tensorParallelSize(cfg: DsConfig): number {
  return cfg.tensor_parallel.autotp_size ?? cfg.tensor_parallel.tp_size ?? 1;
}

