import { z } from 'zod';

/**
 * The config schema: DeepSpeed's keys and defaults, strict at every depth (an unknown key is an
 * error, where DeepSpeed ignores top-level typos), plus deepscale's own blocks (model, data, train,
 * backend, comm_timeout_s). Types here are what the JSON5 file holds; load.ts derives the rest.
 */
const num = z.number();
const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

/** DeepSpeed accepts optimizer and scheduler names case-insensitively. */
const caseless = <T extends readonly [string, ...string[]]>(names: T) =>
  z.preprocess((v) => (typeof v === 'string' ? (names.find((n) => n.toLowerCase() === v.toLowerCase()) ?? v) : v), z.enum(names));

export const OPTIMIZERS = ['Adam', 'AdamW', 'SGD', 'Lamb'] as const;
export const SCHEDULERS = ['WarmupLR', 'WarmupDecayLR', 'WarmupCosineLR', 'OneCycle'] as const;

const optimizerParams = z
  .object({
    lr: num.positive().default(1e-3),
    betas: z.tuple([num, num]).default([0.9, 0.999]),
    eps: num.positive().default(1e-8),
    weight_decay: num.nonnegative().default(0),
    bias_correction: z.boolean().default(true),
    adam_w_mode: z.boolean().optional(),
    torch_adam: z.boolean().optional(),
    momentum: num.nonnegative().default(0),
    nesterov: z.boolean().default(false),
    dampening: num.nonnegative().default(0),
    max_coeff: num.positive().default(10),
    min_coeff: num.nonnegative().default(0.01),
  })
  .strict();

const optimizer = z.object({ type: caseless(OPTIMIZERS), params: optimizerParams.default(optimizerParams.parse({})) }).strict();

const schedulerParams = z
  .object({
    warmup_min_lr: num.nonnegative().optional(),
    warmup_max_lr: num.nonnegative().optional(),
    warmup_num_steps: nonNegInt.optional(),
    warmup_type: z.enum(['log', 'linear']).optional(),
    total_num_steps: posInt.optional(),
    warmup_min_ratio: num.nonnegative().optional(),
    cos_min_ratio: num.nonnegative().optional(),
    cycle_min_lr: num.nonnegative().optional(),
    cycle_max_lr: num.nonnegative().optional(),
    cycle_first_step_size: posInt.optional(),
    cycle_second_step_size: posInt.optional(),
    cycle_first_stair_count: nonNegInt.optional(),
    cycle_second_stair_count: nonNegInt.optional(),
    decay_step_size: nonNegInt.optional(),
    decay_lr_rate: num.nonnegative().optional(),
    cycle_momentum: z.boolean().optional(),
    cycle_min_mom: num.optional(),
    cycle_max_mom: num.optional(),
    decay_mom_rate: num.optional(),
  })
  .strict();

const scheduler = z.object({ type: caseless(SCHEDULERS), params: schedulerParams.default({}) }).strict();

const fp16 = z
  .object({
    enabled: z.boolean().default(false),
    auto_cast: z.boolean().optional(),
    loss_scale: num.nonnegative().optional(),
    initial_scale_power: nonNegInt.optional(),
    loss_scale_window: posInt.optional(),
    hysteresis: posInt.optional(),
    consecutive_hysteresis: z.boolean().optional(),
    min_loss_scale: num.nonnegative().optional(),
  })
  .strict();

const offload = z.object({ device: z.enum(['none', 'cpu', 'nvme']).default('none'), pin_memory: z.boolean().optional(), nvme_path: z.string().optional(), buffer_count: posInt.optional(), ratio: num.optional() }).strict();

const zero = z
  .object({
    stage: z.number().int().min(0).max(3).default(0),
    reduce_bucket_size: posInt.default(500_000_000),
    allgather_bucket_size: posInt.default(500_000_000),
    overlap_comm: z.boolean().optional(),
    contiguous_gradients: z.boolean().optional(),
    reduce_scatter: z.boolean().default(true),
    allgather_partitions: z.boolean().optional(),
    round_robin_gradients: z.boolean().optional(),
    offload_optimizer: offload.optional(),
    offload_param: offload.optional(),
    stage3_prefetch_bucket_size: posInt.optional(),
    stage3_param_persistence_threshold: nonNegInt.optional(),
    stage3_max_live_parameters: posInt.optional(),
    stage3_max_reuse_distance: posInt.optional(),
    stage3_gather_16bit_weights_on_model_save: z.boolean().optional(),
  })
  .strict();

const activationCheckpointing = z
  .object({
    /** deepscale's switch: recompute each layer's forward in backward instead of keeping its activations. */
    enabled: z.boolean().default(false),
    partition_activations: z.boolean().optional(),
    cpu_checkpointing: z.boolean().optional(),
    contiguous_memory_optimization: z.boolean().optional(),
    number_checkpoints: posInt.optional(),
    synchronize_checkpoint_boundary: z.boolean().optional(),
    profile: z.boolean().optional(),
  })
  .strict();

const csvMonitor = z.object({ enabled: z.boolean().default(false), output_path: z.string().default('runs/'), job_name: z.string().default('deepscale') }).strict();

const model = z
  .object({
    vocab_size: posInt.optional(),
    hidden_size: posInt,
    intermediate_size: posInt.optional(),
    num_hidden_layers: posInt,
    num_attention_heads: posInt,
    num_key_value_heads: posInt.optional(),
    head_dim: posInt.optional(),
    max_position_embeddings: posInt.default(2048),
    rms_norm_eps: num.positive().default(1e-5),
    rope_theta: num.positive().default(10000),
    rope_style: z.enum(['half', 'adjacent']).default('half'),
    tie_word_embeddings: z.boolean().default(false),
    init_std: num.positive().default(0.02),
  })
  .strict();

const data = z
  .object({
    task: z.enum(['addition', 'reversal', 'arrow']).default('addition'),
    digits: posInt.default(2),
    min_length: posInt.optional(),
    max_length: posInt.optional(),
    path: z.string().optional(),
    seq_len: posInt.optional(),
  })
  .strict();

const train = z
  .object({
    steps: posInt.default(1000),
    eval_every: nonNegInt.default(0),
    eval_samples: posInt.default(500),
    out_dir: z.string().default('runs/tiny'),
    checkpoint: z.object({ dir: z.string().optional(), save_every: nonNegInt.default(0), keep_last: posInt.optional() }).strict().default({ save_every: 0 }),
  })
  .strict();

export const configSchema = z
  .object({
    train_batch_size: posInt.optional(),
    train_micro_batch_size_per_gpu: posInt.optional(),
    gradient_accumulation_steps: posInt.optional(),
    optimizer: optimizer.optional(),
    scheduler: scheduler.optional(),
    gradient_clipping: num.nonnegative().default(0),
    steps_per_print: posInt.default(10),
    wall_clock_breakdown: z.boolean().default(false),
    seed: z.number().int().default(1234),
    prescale_gradients: z.boolean().default(false),
    gradient_predivide_factor: num.positive().default(1),
    fp16: fp16.optional(),
    bf16: z.object({ enabled: z.boolean().default(false) }).strict().optional(),
    communication_data_type: z.enum(['fp32', 'fp16', 'bf16']).optional(),
    zero_optimization: zero.optional(),
    activation_checkpointing: activationCheckpointing.optional(),
    tensor_parallel: z.object({ tp_size: posInt.optional(), autotp_size: posInt.optional() }).strict().optional(),
    pipeline: z.object({ stages: posInt.default(1), partition_method: z.string().optional(), micro_batches: posInt.optional() }).strict().optional(),
    csv_monitor: csvMonitor.optional(),
    tensorboard: z.object({ enabled: z.boolean().default(false), output_path: z.string().optional(), job_name: z.string().optional() }).strict().optional(),
    comm_timeout_s: num.positive().default(300),
    backend: z.enum(['tensorflow', 'wasm', 'cpu']).optional(),
    model: model.optional(),
    data: data.optional(),
    train: train.optional(),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
