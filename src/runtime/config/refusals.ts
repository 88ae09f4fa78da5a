/**
 * DeepSpeed keys that deepscale reads but cannot honour as set: each is refused at load with the
 * reason, never accepted and ignored. (ZeRO's, tensor and pipeline parallelism's are checked where
 * those are built.)
 */
import { ConfigError } from '../../errors.ts';
import type { RawConfig } from './schema.ts';

export function refuseUnhonoured(cfg: RawConfig, where: string): void {
  const no = (path: string, why: string): never => {
    throw new ConfigError(path, `${why} (${where})`);
  };
  const ac = cfg.activation_checkpointing;
  if (ac.partition_activations) no('activation_checkpointing.partition_activations', 'splits checkpointed activations across tensor-parallel ranks; a tp rank here keeps the whole hidden state of what it checkpoints (not built); remove it');
  if (ac.contiguous_memory_optimization) no('activation_checkpointing.contiguous_memory_optimization', 'copies checkpoints into one preallocated device buffer; tfjs allocates every tensor itself, so there is no buffer to manage; remove it');
  if (ac.number_checkpoints !== undefined) no('activation_checkpointing.number_checkpoints', "sizes contiguous_memory_optimization's buffer, which is not built; deepscale checkpoints every layer of its layer list; remove it");
  if (ac.profile) no('activation_checkpointing.profile', 'per-checkpoint timing is not built; flops_profiler prints each layer\'s forward time and wall_clock_breakdown the forward/backward split');
  if (cfg.prescale_gradients) no('prescale_gradients', "deepscale divides each gradient by the global batch's token count before the reduce, so the reduce sums terms already at their final scale; there is nothing to prescale");
  if (cfg.gradient_predivide_factor !== 1) no('gradient_predivide_factor', `is ${cfg.gradient_predivide_factor}: gradients are already divided by the global token count before the reduce (see prescale_gradients); only 1 is meaningful`);
  if (cfg.zero_allow_untested_optimizer) no('zero_allow_untested_optimizer', 'allows a client optimizer under ZeRO; initialize() takes no client optimizer, and every built-in one is tested with each ZeRO stage');
  if (cfg.flops_profiler.recompute_fwd_factor !== 0) no('flops_profiler.recompute_fwd_factor', 'the profiler reports forward FLOPs of the layers as they ran; a backward estimate scaled by this factor is not built');
  // tfjs computes in float32: there is no float16 forward or backward to autocast or loss-scale.
  // DeepSpeed's defaults load (a DeepSpeed fp16 block usually spells them out); other values would do nothing.
  const f = cfg.fp16;
  if (f.auto_cast) no('fp16.auto_cast', 'casts the forward to float16; compute here is float32 (fp16 sets what is stored and sent)');
  if (f.loss_scale !== 0) no('fp16.loss_scale', `is ${f.loss_scale}: loss scaling guards float16 gradients against underflow, and gradients here are float32 (fp16 on the wire is scaled per bucket by a power of two instead)`);
  const ls: [string, unknown, unknown][] = [['initial_scale_power', f.initial_scale_power, 16], ['loss_scale_window', f.loss_scale_window, 1000], ['hysteresis', f.hysteresis, 2], ['consecutive_hysteresis', f.consecutive_hysteresis, false], ['min_loss_scale', f.min_loss_scale, 1]];
  for (const [k, v, d] of ls) if (v !== d) no(`fp16.${k}`, `is ${JSON.stringify(v)}: it tunes dynamic loss scaling, which float32 gradients do not need, so only DeepSpeed's default ${JSON.stringify(d)} is accepted`);
  if (cfg.pipeline.stages > 1) refusePipelineCombos(cfg, no);
  const tp = cfg.tensor_parallel.autotp_size ?? cfg.tensor_parallel.tp_size ?? 1;
  if (tp > 1) refuseTensorParallelCombos(cfg, tp, no);
}

/** What tensor parallelism does not combine with yet (a rank holds a slice of each layer, see src/parallel/tensor_parallel.ts). */
function refuseTensorParallelCombos(cfg: RawConfig, tp: number, no: (path: string, why: string) => never): void {
  const w = `with tensor_parallel.autotp_size ${tp}`;
  if (cfg.zero_optimization.stage === 3) no('zero_optimization.stage', `3 ${w}: ZeRO-3 would shard the parameter slices a tensor-parallel rank keeps whole; use stage 0, 1 or 2`);
  if (cfg.optimizer?.type === 'OneBitAdam') no('optimizer.type', `OneBitAdam ${w} is not built`);
  if (cfg.optimizer?.type === 'Lamb') no('optimizer.type', `Lamb ${w}: its trust ratio ‖w‖/‖update‖ is per parameter, and a rank holds a slice of each; a tp-aware norm is not built (use Adam or AdamW)`);
  if (cfg.compression_training !== undefined) no('compression_training', `${w}: quantization-aware training would quantize each rank's slice on its own scale, unlike the 1-rank run; not built`);
  if (cfg.distillation !== undefined) no('distillation', `${w}: the distillation loss reads full-vocabulary logits, which tensor parallelism never gathers; not built`);
}

/** What pipeline stages do not combine with yet (a stage holds a slice of the model, see src/parallel). */
function refusePipelineCombos(cfg: RawConfig, no: (path: string, why: string) => never): void {
  const stages = `with pipeline.stages ${cfg.pipeline.stages}`;
  const m = cfg.pipeline.partition_method;
  if (m !== 'parameters' && m !== 'uniform') no('pipeline.partition_method', `"${m}" balances layers of a named class (DeepSpeed's type:REGEX); deepscale's layer list has one kind per position: use "parameters" or "uniform"`);
  const mb = cfg.pipeline.micro_batches;
  if (mb !== undefined && mb !== cfg.gradient_accumulation_steps)
    no('pipeline.micro_batches', `is ${mb}, but a pipeline step runs gradient_accumulation_steps (${cfg.gradient_accumulation_steps ?? 'derived'}) micro-batches, as DeepSpeed's does; leave it out or make them equal`);
  if (cfg.optimizer?.type === 'OneBitAdam') no('optimizer.type', `OneBitAdam ${stages} is not built`);
  if (cfg.compression_training !== undefined) no('compression_training', `quantization-aware training ${stages} is not built`);
  if (cfg.distillation !== undefined) no('distillation', `distillation ${stages} is not built`);
}

/** Keys whose meaning depends on the backend, checked once it is chosen. */
export function refuseForBackend(cfg: { readonly activation_checkpointing: { readonly cpu_checkpointing: boolean } }, backend: string): void {
  // On wasm and cpu every tensor already lives in host memory: checkpointed activations are on the CPU.
  if (cfg.activation_checkpointing.cpu_checkpointing && (backend === 'tensorflow' || backend === 'webgpu'))
    throw new ConfigError('activation_checkpointing.cpu_checkpointing', `moving checkpointed activations off the device is not built for the ${backend} backend (on wasm and cpu they are in host memory already)`);
}
