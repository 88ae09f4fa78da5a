import { buildLlama } from '../models/llama.ts';
import type { Model, ModelConfig } from '../models/types.ts';
import { initBackend, type BackendInfo } from './backend/index.ts';
import { initProcessGroup, readDistEnv, type DistEnv, type ProcessGroup } from './comm/index.ts';
import { loadConfig, type DsConfig } from './config/index.ts';
import { Engine } from './engine/engine.ts';
import { createZeroStage } from '../zero/index.ts';
import { log } from './logger.ts';
import { NotImplementedError } from '../errors.ts';
import { baseLr, createOptimizer, createScheduler } from './optim/index.ts';

export interface InitializeOptions {
  /** Path to a .json/.json5 config, or the config object. */
  readonly config: string | object;
  /** The model, its config, or a function of the validated config that builds either. */
  readonly model: Model | ModelConfig | ((cfg: DsConfig) => Model | ModelConfig);
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
  /** Leaves the process group (call at the end of the script). */
  close(): Promise<void>;
}

/**
 * DeepSpeed's initialize(): reads this rank's place in the job, validates the config once, picks
 * the tensor backend, joins the process group, and builds the engine with its optimizer and
 * scheduler. Parameters start equal on every rank (same seed, then a broadcast from rank 0).
 */
export async function initialize(opts: InitializeOptions): Promise<TrainingRuntime> {
  const env = opts.env ?? process.env;
  const dist = readDistEnv(env, { allowSingle: true });
  // ds-launch's local launcher prefixes each rank's lines itself.
  log.configure({ rank: dist.rank, worldSize: dist.worldSize, prefix: env.DS_LAUNCHER !== 'local' });
  const config = loadConfig(opts.config, { dpWorldSize: dist.worldSize });
  refuseUnbuilt(config);
  const backend = await initBackend({ force: config.backend });
  log.info(`deepscale: backend ${backend.name}${backend.simd ? ' (SIMD)' : ''}, rank ${dist.rank}/${dist.worldSize}, compute float32${config.precision.wire !== 'fp32' ? `, ${config.precision.wire} on the wire` : ''}`);

  const m = typeof opts.model === 'function' ? opts.model(config) : opts.model;
  const model = 'layers' in m ? m : buildLlama(m);
  const pg = dist.worldSize > 1
    ? await initProcessGroup({ rank: dist.rank, worldSize: dist.worldSize, masterAddr: dist.masterAddr, masterPort: dist.masterPort, timeoutMs: config.comm_timeout_s * 1000 })
    : null;

  const schedule = createScheduler(config.scheduler, baseLr(config.optimizer));
  // The ZeRO stage owns parameters, gradients and optimizer state (seeded, broadcast from rank 0).
  const stage = await createZeroStage(config.zero_optimization, {
    pg, rank: dist.rank, worldSize: dist.worldSize, model, seed: config.seed, wire: config.precision.wire,
    createOptimizer: (n) => createOptimizer(config.optimizer, n),
  });
  const engine = new Engine(
    model,
    {
      gradAccumSteps: config.gradient_accumulation_steps,
      gradientClipping: config.gradient_clipping,
      seed: config.seed,
      lrAt: (s) => schedule.lrAt(s),
      stage,
      recompute: config.activation_checkpointing?.enabled ?? false,
      place: {
        rank: dist.rank,
        worldSize: dist.worldSize,
        barrier: pg ? () => pg.barrier() : undefined,
        weightDtype: config.precision.storage,
      },
    },
  );
  return {
    engine,
    config,
    dist,
    pg,
    backend,
    close: async () => {
      if (pg) {
        await pg.barrier();
        await pg.destroy();
      }
    },
  };
}

/** Config blocks whose features are not built yet: a clear error rather than a silent single-rank run. */
function refuseUnbuilt(cfg: DsConfig): void {
  if ((cfg.tensor_parallel?.tp_size ?? cfg.tensor_parallel?.autotp_size ?? 1) > 1) throw new NotImplementedError('tensor_parallel.tp_size > 1');
  if ((cfg.pipeline?.stages ?? 1) > 1) throw new NotImplementedError('pipeline.stages > 1');
  if (cfg.tensorboard?.enabled) throw new NotImplementedError('tensorboard monitor (use csv_monitor)');
}
