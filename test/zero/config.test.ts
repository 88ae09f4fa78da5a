/**
 * The zero_optimization block: every key is honoured or refused with its JSON path and a
 * reason; bad combinations fail at load with DeepSpeed's wording where DeepSpeed has one.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/runtime/config/index.ts';
import { ConfigError } from '../../src/errors.ts';

const load = (extra: Record<string, unknown>) => loadConfig({ train_micro_batch_size_per_gpu: 2, ...extra }, { dpWorldSize: 2 });

function refusal(extra: Record<string, unknown>): ConfigError {
  try {
    load(extra);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(extra)}`);
}

describe('zero_optimization: honoured or refused', () => {
  it('a stage outside 0-3 names the value', () => {
    const e = refusal({ zero_optimization: { stage: 4 } });
    expect(e.path).toBe('zero_optimization.stage');
    expect(e.message).toMatch(/got 4/);
  });

  it("stage 2 or 3 with pipeline parallelism: DeepSpeed's error", () => {
    for (const stage of [2, 3]) {
      const e = refusal({ zero_optimization: { stage }, pipeline: { stages: 2 } });
      expect(e.message).toMatch(/ZeRO-2 and ZeRO-3 are incompatible with pipeline parallelism/);
    }
  });

  it('offload_param below stage 3 is a mistake, named as one', () => {
    const e = refusal({ zero_optimization: { stage: 2, offload_param: { device: 'cpu' } } });
    expect(e.path).toBe('zero_optimization.offload_param.device');
    expect(e.message).toMatch(/needs stage 3.*got stage 2/);
  });

  it('Lamb under ZeRO is refused with the reason (per-parameter norms across shards)', () => {
    const e = refusal({ optimizer: { type: 'Lamb' }, zero_optimization: { stage: 1 } });
    expect(e.path).toBe('optimizer.type');
    expect(e.message).toMatch(/trust ratio/);
    expect(load({ optimizer: { type: 'Lamb' }, zero_optimization: { stage: 0 } }).optimizer?.type).toBe('Lamb');
  });

  const unbuilt: [string, Record<string, unknown>][] = [
    ['offload_optimizer.device', { offload_optimizer: { device: 'nvme' } }],
    ['offload_param.device', { stage: 3, offload_param: { device: 'nvme' } }],
    ['offload_optimizer.pin_memory', { offload_optimizer: { device: 'cpu', pin_memory: true } }],
    ['offload_optimizer.buffer_count', { offload_optimizer: { device: 'cpu', buffer_count: 4 } }],
    ['contiguous_gradients', { contiguous_gradients: false }],
    ['allgather_partitions', { allgather_partitions: false }],
    ['round_robin_gradients', { round_robin_gradients: true }],
    ['load_from_fp32_weights', { load_from_fp32_weights: false }],
    ['sub_group_size', { sub_group_size: 1000 }],
    ['allgather_bucket_size', { stage: 3, allgather_bucket_size: 1000 }],
    ['stage3_max_live_parameters', { stage: 3, stage3_max_live_parameters: 1000 }],
    ['stage3_max_reuse_distance', { stage: 3, stage3_max_reuse_distance: 1000 }],
    ['stage3_gather_16bit_weights_on_model_save', { stage: 3, stage3_gather_16bit_weights_on_model_save: true }],
  ];
  for (const [key, zero] of unbuilt) {
    it(`${key} set to a value that is not built is refused, naming the key and why`, () => {
      const e = refusal({ zero_optimization: { stage: 2, ...zero } });
      expect(e.path).toBe(`zero_optimization.${key}`);
      expect(e.message).toMatch(/not supported: .{20,}/);
    });
  }

  it('offload_optimizer: needs stage 1-3 and an optimizer with a host implementation (Adam, AdamW); offload_param cpu at stage 3 loads', () => {
    expect(refusal({ zero_optimization: { stage: 0, offload_optimizer: { device: 'cpu' } } }).message).toMatch(/needs ZeRO stage 1, 2 or 3/);
    const sgd = refusal({ optimizer: { type: 'SGD', params: { lr: 0.1 } }, zero_optimization: { stage: 2, offload_optimizer: { device: 'cpu' } } });
    expect(sgd.path).toBe('optimizer.type');
    expect(sgd.message).toMatch(/SGD has no host implementation/);
    expect(load({ zero_optimization: { stage: 3, offload_optimizer: { device: 'cpu' }, offload_param: { device: 'cpu' } } }).zero_optimization.offload_param.device).toBe('cpu');
  });

  it('overlap_comm below stage 2 is refused: those stages reduce after backward, so there is nothing to overlap', () => {
    const e = refusal({ zero_optimization: { stage: 1, overlap_comm: true } });
    expect(e.path).toBe('zero_optimization.overlap_comm');
    expect(e.message).toMatch(/applies at stages 2 and 3/);
  });

  it('the built keys load: buckets, reduce_scatter, overlap_comm, prefetch, persistence threshold, DeepSpeed defaults of the rest', () => {
    const c = load({ zero_optimization: { stage: 3, reduce_bucket_size: 1000, reduce_scatter: false, stage3_param_persistence_threshold: 10, overlap_comm: true, stage3_prefetch_bucket_size: 1000, elastic_checkpoint: true } });
    expect(c.zero_optimization).toMatchObject({ stage: 3, reduce_bucket_size: 1000, reduce_scatter: false, stage3_param_persistence_threshold: 10, overlap_comm: true, stage3_prefetch_bucket_size: 1000 });
    expect(load({ zero_optimization: { stage: 1, allgather_bucket_size: 1000 } }).zero_optimization.allgather_bucket_size).toBe(1000);
  });
});
