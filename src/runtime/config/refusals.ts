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
  if (ac.partition_activations) no('activation_checkpointing.partition_activations', 'splits checkpointed activations across tensor-parallel ranks, and tensor parallelism is not built; remove it');
  if (ac.contiguous_memory_optimization) no('activation_checkpointing.contiguous_memory_optimization', 'copies checkpoints into one preallocated device buffer; tfjs allocates every tensor itself, so there is no buffer to manage; remove it');
  if (ac.number_checkpoints !== undefined) no('activation_checkpointing.number_checkpoints', "sizes contiguous_memory_optimization's buffer, which is not built; deepscale checkpoints every layer of its layer list; remove it");
  if (ac.profile) no('activation_checkpointing.profile', 'per-checkpoint timing is not built; flops_profiler prints each layer\'s forward time and wall_clock_breakdown the forward/backward split');
  if (cfg.prescale_gradients) no('prescale_gradients', "deepscale divides each gradient by the global batch's token count before the reduce, so the reduce sums terms already at their final scale; there is nothing to prescale");
  if (cfg.gradient_predivide_factor !== 1) no('gradient_predivide_factor', `is ${cfg.gradient_predivide_factor}: gradients are already divided by the global token count before the reduce (see prescale_gradients); only 1 is meaningful`);
  if (cfg.zero_allow_untested_optimizer) no('zero_allow_untested_optimizer', 'allows a client optimizer under ZeRO; initialize() takes no client optimizer, and every built-in one is tested with each ZeRO stage');
  if (cfg.flops_profiler.recompute_fwd_factor !== 0) no('flops_profiler.recompute_fwd_factor', 'the profiler reports forward FLOPs of the layers as they ran; a backward estimate scaled by this factor is not built');
}

/** Keys whose meaning depends on the backend, checked once it is chosen. */
export function refuseForBackend(cfg: { readonly activation_checkpointing: { readonly cpu_checkpointing: boolean } }, backend: string): void {
  // On wasm and cpu every tensor already lives in host memory: checkpointed activations are on the CPU.
  if (cfg.activation_checkpointing.cpu_checkpointing && backend === 'tensorflow')
    throw new ConfigError('activation_checkpointing.cpu_checkpointing', 'moving checkpointed activations off the device is not built for the tensorflow backend (on wasm and cpu they are in host memory already)');
}
