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
  checkOffload(cfg, where);
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

/**
 * ZeRO-Offload: offload_optimizer cpu runs Adam/AdamW on host worker threads (src/zero/offload);
 * offload_param cpu at stage 3 is what stage 3 does on these backends already (shards are plain
 * host buffers outside tfjs; only the layer being run becomes tensors). NVMe, pinned memory and
 * the buffer-tuning keys have nothing to act on here.
 */
function checkOffload(cfg: RawConfig, where: string): void {
  const z = cfg.zero_optimization;
  for (const kind of ['offload_optimizer', 'offload_param'] as const) {
    const o = z[kind];
    const at = `zero_optimization.${kind}`;
    if (o.device === 'nvme') throw new ConfigError(`${at}.device`, `not supported: "nvme": ZeRO-Infinity's NVMe tier is not built; use "cpu" (${where})`);
    if (o.pin_memory) throw new ConfigError(`${at}.pin_memory`, `not supported: true: page-locked memory speeds device transfers, and the CPU backends make none (${where})`);
    for (const k of ['nvme_path', 'buffer_count', 'buffer_size', 'max_in_cpu', 'ratio', 'fast_init'] as const) {
      if (o[k] !== undefined) throw new ConfigError(`${at}.${k}`, `not supported: it tunes the NVMe/partial offload, which is not built (${where})`);
    }
  }
  if (z.offload_optimizer.device === 'cpu') {
    if (z.stage === 0) throw new ConfigError('zero_optimization.offload_optimizer.device', `offload needs ZeRO stage 1, 2 or 3 (the host workers step this rank's optimizer shard), got stage 0 (${where})`);
    const type = cfg.optimizer?.type ?? 'AdamW';
    if (type !== 'Adam' && type !== 'AdamW') throw new ConfigError('optimizer.type', `${type} has no host implementation for offload_optimizer (the host workers run Adam/AdamW) (${where})`);
  }
}
