import { z } from 'zod';
import * as b from './blocks.ts';
import * as ours from './ours.ts';
import { compressionTraining, distillation } from './compression.ts';

export { OPTIMIZERS, SCHEDULERS } from './blocks.ts';

/**
 * The root schema: DeepSpeed's top-level keys and defaults, strict at every depth (DeepSpeed
 * ignores a misspelt top-level key; deepscale refuses it), plus deepscale's own keys
 * (backend, comm_timeout_s, model, data, train). Types here are what the file holds after
 * defaults; load.ts derives the batch sizes and the precision.
 */
export const configSchema = z
  .object({
    train_batch_size: b.posInt.optional(),
    train_micro_batch_size_per_gpu: b.posInt.optional(),
    gradient_accumulation_steps: b.posInt.optional(),
    /** Absent: Adam with its defaults (DeepSpeed would use the client's optimizer; deepscale has none). */
    optimizer: b.optimizer.optional(),
    /** Absent: the optimizer's lr at every step. */
    scheduler: b.scheduler.optional(),
    /** Max global L2 norm of the gradients; 0 = no clipping. */
    gradient_clipping: b.num.nonnegative().default(0),
    steps_per_print: b.posInt.default(10),
    wall_clock_breakdown: z.boolean().default(false),
    memory_breakdown: z.boolean().default(false),
    dump_state: z.boolean().default(false),
    seed: z.number().int().nonnegative().default(1234),
    prescale_gradients: z.boolean().default(false),
    gradient_predivide_factor: b.num.positive().default(1),
    zero_allow_untested_optimizer: z.boolean().default(false),
    fp16: b.fp16.prefault({}),
    bf16: b.bf16.prefault({}),
    communication_data_type: z.enum(['fp32', 'fp16', 'bf16']).optional(),
    /** DeepSpeed's legacy boolean form is accepted: true = stage 1, false = stage 0. */
    zero_optimization: z.preprocess((v) => (typeof v === 'boolean' ? { stage: v ? 1 : 0 } : v), b.zeroOptimization).prefault({}),
    activation_checkpointing: b.activationCheckpointing.prefault({}),
    tensor_parallel: b.tensorParallel.prefault({}),
    pipeline: b.pipeline.prefault({}),
    csv_monitor: b.csvMonitor.prefault({}),
    tensorboard: b.tensorboard.prefault({}),
    flops_profiler: b.flopsProfiler.prefault({}),
    /** DeepSpeed's compression library: QAT (weight_quantization) and layer_reduction; the rest refused. */
    compression_training: compressionTraining.optional(),
    /** deepscale: knowledge distillation from a frozen teacher (DeepSpeed passes the teacher in code). */
    distillation: distillation.optional(),
    /** deepscale: seconds a collective may wait for a peer before a CommError names the missing ranks. */
    comm_timeout_s: b.num.positive().default(300),
    /** deepscale: force a tfjs backend (else tensorflow, then wasm, then cpu; webgpu only when named here or by DS_BACKEND). */
    backend: z.enum(['tensorflow', 'webgpu', 'wasm', 'cpu']).optional(),
    model: ours.model.optional(),
    data: ours.data.prefault({}),
    train: ours.train.prefault({}),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
