import { ConfigError } from '../../errors.ts';
import type { RawConfig } from './schema.ts';

/**
 * The zero_optimization block's rules: what is built is honoured (stage, reduce_bucket_size,
 * allgather_bucket_size at stages 1-2, reduce_scatter, overlap_comm at stages 2-3,
 * stage3_prefetch_bucket_size, stage3_param_persistence_threshold), the
 * keys whose feature is not built are refused when set to anything but DeepSpeed's default,
 * and impossible combinations fail here, at load, naming the key.
 */
export function checkZero(cfg: RawConfig, where: string): void {
  const z = cfg.zero_optimization;
  const at = (k: string): string => `zero_optimization.${k}`;
  const notBuilt = (k: string, why: string): ConfigError => new ConfigError(at(k), `not supported: ${why} (${where})`);

  if ((cfg.pipeline.stages ?? 1) > 1 && z.stage >= 2)
    throw new ConfigError(at('stage'), `ZeRO-2 and ZeRO-3 are incompatible with pipeline parallelism (stage ${z.stage}, pipeline.stages ${cfg.pipeline.stages}) (${where})`);
  if (z.offload_param.device !== 'none' && z.stage < 3)
    throw new ConfigError(at('offload_param.device'), `offload_param needs stage 3 (parameters are only partitioned there), got stage ${z.stage} (${where})`);
  if (z.offload_optimizer.device !== 'none')
    throw notBuilt('offload_optimizer.device', `"${z.offload_optimizer.device}": ZeRO-Offload (the optimizer step on host worker threads) is not built; on the CPU backends state already lives in host memory`);
  if (z.offload_param.device !== 'none')
    throw notBuilt('offload_param.device', `"${z.offload_param.device}": parameter offload is not built; on the CPU backends ZeRO-3 shards already live in host memory`);
  if (z.stage >= 1 && cfg.optimizer?.type === 'Lamb')
    throw new ConfigError('optimizer.type', `Lamb with zero_optimization.stage ${z.stage} is not supported: its trust ratio needs each parameter's whole norm, and ZeRO cuts parameters across shards (use stage 0, or Adam/AdamW/SGD) (${where})`);

  if (z.overlap_comm && z.stage < 2)
    throw notBuilt('overlap_comm', `at stage ${z.stage}: stages 0 and 1 reduce the whole gradient at the accumulation boundary, after backward; overlap_comm applies at stages 2 and 3, whose buckets reduce between layers`);
  if (!z.contiguous_gradients) throw notBuilt('contiguous_gradients', 'false: gradients always live in contiguous flat buffers here');
  if (!z.allgather_partitions) throw notBuilt('allgather_partitions', 'false: updated partitions are always all-gathered (there is no broadcast path)');
  if (z.round_robin_gradients) throw notBuilt('round_robin_gradients', 'it orders gradient copies for CPU offload, which is not built');
  if (!z.load_from_fp32_weights) throw notBuilt('load_from_fp32_weights', 'false: checkpoints always restore the float32 master weights');
  if (z.sub_group_size !== 1_000_000_000) throw notBuilt('sub_group_size', `${z.sub_group_size}: the optimizer steps its whole shard at once`);
  if (z.stage === 3 && z.allgather_bucket_size !== 500_000_000)
    throw notBuilt('allgather_bucket_size', `${z.allgather_bucket_size} at stage 3: stage 3 gathers one layer at a time (the key applies to stages 1 and 2)`);
  if (z.stage3_max_live_parameters !== 1_000_000_000) throw notBuilt('stage3_max_live_parameters', `${z.stage3_max_live_parameters}: stage 3 keeps exactly one layer gathered at a time; there is no limit to set`);
  if (z.stage3_max_reuse_distance !== 1_000_000_000) throw notBuilt('stage3_max_reuse_distance', `${z.stage3_max_reuse_distance}: gathered parameters are never kept for reuse (each layer is gathered again for backward)`);
  if (z.stage3_gather_16bit_weights_on_model_save) throw notBuilt('stage3_gather_16bit_weights_on_model_save', 'checkpoints keep shards; write full weights with `ds checkpoint consolidate CKPT --out model.safetensors`');
}
