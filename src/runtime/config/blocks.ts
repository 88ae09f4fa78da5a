import { z } from 'zod';

/**
 * DeepSpeed's config blocks with DeepSpeed's names and defaults, each `.strict()` (an unknown key
 * is an error). Blocks that are always meaningful use `.prefault({})`, so the validated config
 * carries them with every default filled even when the file leaves them out.
 */
export const num = z.number();
export const posInt = z.number().int().positive();
export const nonNegInt = z.number().int().nonnegative();

/** DeepSpeed matches optimizer and scheduler names case-insensitively; the config keeps the canonical spelling. */
const caseless = <T extends readonly [string, ...string[]]>(names: T) =>
  z.preprocess((v) => (typeof v === 'string' ? (names.find((n) => n.toLowerCase() === v.toLowerCase()) ?? v) : v), z.enum(names));

export const OPTIMIZERS = ['Adam', 'AdamW', 'SGD', 'Lamb', 'OneBitAdam'] as const;
export const SCHEDULERS = ['WarmupLR', 'WarmupDecayLR', 'WarmupCosineLR', 'OneCycle'] as const;

/**
 * One params object for every optimizer type (defaults of torch/FusedAdam/FusedLamb);
 * checks.ts rejects a key the chosen type does not take, as DeepSpeed's constructor call would.
 */
const optimizerParams = z
  .object({
    lr: num.positive().default(1e-3),
    betas: z.tuple([num.min(0).lt(1), num.min(0).lt(1)]).default([0.9, 0.999]),
    eps: num.positive().default(1e-8),
    weight_decay: num.nonnegative().default(0),
    bias_correction: z.boolean().default(true),
    /** Adam only: decoupled weight decay. DeepSpeed's default is true, so type "Adam" is AdamW unless this is false. */
    adam_w_mode: z.boolean().optional(),
    /** Adam only: DeepSpeed's switch to torch.optim.Adam(W); the same update here. */
    torch_adam: z.boolean().optional(),
    momentum: num.nonnegative().default(0),
    nesterov: z.boolean().default(false),
    dampening: num.nonnegative().default(0),
    max_coeff: num.positive().default(10),
    min_coeff: num.nonnegative().default(0.01),
    /** OneBitAdam only (DeepSpeed's names and defaults): steps of uncompressed warm-up before the variance freezes. */
    freeze_step: posInt.default(100000),
    /** OneBitAdam only: CUDA-aware MPI; true is refused (config/onebit_checks.ts). */
    cuda_aware: z.boolean().default(false),
    /** OneBitAdam only: the backend of the compressed collective; "nccl" is honoured (config/onebit_checks.ts). */
    comm_backend_name: z.string().default('nccl'),
  })
  .strict();

export const optimizer = z.object({ type: caseless(OPTIMIZERS), params: optimizerParams.prefault({}) }).strict();

/** Scheduler params stay optional: the defaults depend on the type (schedulers/*.ts). */
const schedulerParams = z
  .object({
    warmup_min_lr: num.nonnegative().optional(),
    warmup_max_lr: num.nonnegative().optional(),
    warmup_num_steps: posInt.optional(),
    warmup_type: z.enum(['log', 'linear']).optional(),
    total_num_steps: posInt.optional(),
    warmup_min_ratio: num.min(0).max(1).optional(),
    cos_min_ratio: num.min(0).max(1).optional(),
    cycle_min_lr: num.nonnegative().optional(),
    cycle_max_lr: num.nonnegative().optional(),
    cycle_first_step_size: posInt.optional(),
    cycle_second_step_size: posInt.optional(),
    cycle_first_stair_count: nonNegInt.optional(),
    cycle_second_stair_count: nonNegInt.optional(),
    decay_step_size: nonNegInt.optional(),
    decay_lr_rate: num.nonnegative().optional(),
    cycle_momentum: z.boolean().optional(),
    cycle_min_mom: num.min(0).lt(1).optional(),
    cycle_max_mom: num.min(0).lt(1).optional(),
    decay_mom_rate: num.nonnegative().optional(),
  })
  .strict();

export const scheduler = z.object({ type: caseless(SCHEDULERS), params: schedulerParams.prefault({}) }).strict();

/**
 * fp16: the loss-scale keys are accepted for DeepSpeed configs, but nothing is scaled: tfjs
 * computes in float32, so there is no float16 underflow to guard against. `enabled` sets the
 * storage and wire precision (see `precision` in load.ts).
 */
export const fp16 = z
  .object({
    enabled: z.boolean().default(false),
    auto_cast: z.boolean().default(false),
    loss_scale: num.nonnegative().default(0),
    initial_scale_power: nonNegInt.default(16),
    loss_scale_window: posInt.default(1000),
    hysteresis: posInt.default(2),
    consecutive_hysteresis: z.boolean().default(false),
    min_loss_scale: num.nonnegative().default(1),
  })
  .strict();

export const bf16 = z.object({ enabled: z.boolean().default(false) }).strict();

const offload = z
  .object({
    device: z.enum(['none', 'cpu', 'nvme']).default('none'),
    pin_memory: z.boolean().default(false),
    nvme_path: z.string().optional(),
    buffer_count: posInt.optional(),
    buffer_size: posInt.optional(),
    max_in_cpu: posInt.optional(),
    ratio: num.min(0).max(1).optional(),
    fast_init: z.boolean().optional(),
  })
  .strict();

export const zeroOptimization = z
  .object({
    stage: z.number().int().min(0).max(3).default(0),
    reduce_bucket_size: posInt.default(500_000_000),
    allgather_bucket_size: posInt.default(500_000_000),
    overlap_comm: z.boolean().default(false),
    contiguous_gradients: z.boolean().default(true),
    reduce_scatter: z.boolean().default(true),
    allgather_partitions: z.boolean().default(true),
    round_robin_gradients: z.boolean().default(false),
    load_from_fp32_weights: z.boolean().default(true),
    elastic_checkpoint: z.boolean().default(false),
    ignore_unused_parameters: z.boolean().default(true),
    sub_group_size: posInt.default(1_000_000_000),
    offload_optimizer: offload.prefault({}),
    offload_param: offload.prefault({}),
    stage3_prefetch_bucket_size: posInt.default(50_000_000),
    stage3_param_persistence_threshold: nonNegInt.default(100_000),
    stage3_max_live_parameters: posInt.default(1_000_000_000),
    stage3_max_reuse_distance: nonNegInt.default(1_000_000_000),
    stage3_gather_16bit_weights_on_model_save: z.boolean().default(false),
  })
  .strict();

/**
 * DeepSpeed configures activation checkpointing with this block and the model code calls
 * checkpoint() per layer; deepscale's engine runs the layer list itself, so the block being
 * present turns recomputation on for every layer (deepscale's `enabled` can say false). The
 * other keys are checked in initialize(): cpu_checkpointing is what the host-memory backends do
 * anyway; partition_activations needs tensor parallelism; the rest are refused with the reason.
 */
export const activationCheckpointing = z
  .object({
    enabled: z.boolean().optional(),
    partition_activations: z.boolean().default(false),
    cpu_checkpointing: z.boolean().default(false),
    contiguous_memory_optimization: z.boolean().default(false),
    number_checkpoints: posInt.optional(),
    synchronize_checkpoint_boundary: z.boolean().default(false),
    profile: z.boolean().default(false),
  })
  .strict();

/** DeepSpeed's flops profiler (profiling/config.py), with its defaults. */
export const flopsProfiler = z
  .object({
    enabled: z.boolean().default(false),
    recompute_fwd_factor: num.nonnegative().default(0),
    profile_step: posInt.default(1),
    module_depth: z.number().int().min(-1).default(-1),
    top_modules: posInt.default(1),
    detailed: z.boolean().default(true),
    output_file: z.string().nullable().default(null),
  })
  .strict();

export const tensorParallel = z.object({ tp_size: posInt.optional(), autotp_size: posInt.optional() }).strict();

/** DeepSpeed sets pipeline parallelism in the engine API (PipelineModule); deepscale reads it here. */
export const pipeline = z
  .object({
    stages: posInt.default(1),
    partition_method: z.enum(['parameters', 'uniform', 'type']).default('parameters'),
    micro_batches: posInt.optional(),
  })
  .strict();

export const csvMonitor = z
  .object({ enabled: z.boolean().default(false), output_path: z.string().default('runs/'), job_name: z.string().default('deepscale') })
  .strict();

/** DeepSpeed's tensorboard monitor: scalar event files under output_path/job_name/. */
export const tensorboard = z
  .object({ enabled: z.boolean().default(false), output_path: z.string().default('runs/'), job_name: z.string().default('DeepSpeedJobName') })
  .strict();
