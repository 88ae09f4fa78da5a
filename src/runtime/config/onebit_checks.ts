import { ConfigError } from '../../errors.ts';
import type { RawConfig } from './schema.ts';

/**
 * optimizer.type "OneBitAdam" (src/compress/onebit): what DeepSpeed refuses is refused with
 * DeepSpeed's reason, and the two backend keys are honoured or refused by what runs here.
 */
export function checkOneBit(cfg: RawConfig, where: string): void {
  const opt = cfg.optimizer;
  if (opt?.type !== 'OneBitAdam') return;
  const stage = cfg.zero_optimization.stage;
  if (stage > 0)
    throw new ConfigError('zero_optimization.stage', `1bit-Adam is not compatible with ZeRO (DeepSpeed's engine asserts this: the compressed all-reduce needs each rank's whole momentum, and ZeRO shards the optimizer state); got stage ${stage}, use stage 0 (${where})`);
  if (opt.params.cuda_aware)
    throw new ConfigError('optimizer.params.cuda_aware', `true is not supported: it hands GPU buffers to a CUDA-aware MPI, and deepscale's compressed all-reduce runs over its own TCP process group on host memory; leave it false (${where})`);
  // DeepSpeed's "nccl" backend (its default) runs the all-to-all + all-gather algorithm that
  // deepscale's TCP group runs here, so it is honoured; the others name transports that do not exist here.
  if (opt.params.comm_backend_name !== 'nccl')
    throw new ConfigError('optimizer.params.comm_backend_name', `"${opt.params.comm_backend_name}" is not supported: deepscale has one transport (TCP), which runs the algorithm of DeepSpeed's "nccl" backend (all-to-all of packed signs, then all-gather); use "nccl" (the default) (${where})`);
}
