import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/runtime/config/index.ts';

describe('defaults, precision and freezing', () => {
  it("fills DeepSpeed's defaults for blocks the file leaves out", () => {
    const c = loadConfig({ train_micro_batch_size_per_gpu: 4 }, { dpWorldSize: 1 });
    expect(c.steps_per_print).toBe(10);
    expect(c.gradient_clipping).toBe(0);
    expect(c.wall_clock_breakdown).toBe(false);
    expect(c.comm_timeout_s).toBe(300);
    expect(c.zero_optimization.stage).toBe(0);
    expect(c.zero_optimization.reduce_bucket_size).toBe(500_000_000);
    expect(c.zero_optimization.offload_optimizer.device).toBe('none');
    expect(c.activation_checkpointing.enabled).toBe(false);
    expect(c.fp16).toMatchObject({ enabled: false, loss_scale: 0, initial_scale_power: 16, loss_scale_window: 1000, hysteresis: 2, min_loss_scale: 1 });
    expect(c.pipeline).toEqual({ stages: 1, partition_method: 'parameters' });
    expect(c.csv_monitor).toEqual({ enabled: false, output_path: 'runs/', job_name: 'deepscale' });
    expect(c.data).toEqual({ task: 'addition', digits: 2 });
    expect(c.train.checkpoint.save_every).toBe(0);
    expect(c.precision).toEqual({ compute: 'fp32', wire: 'fp32', storage: 'fp32' });
    expect(c.optimizer).toBeUndefined();
    expect(c.scheduler).toBeUndefined();
  });

  it('fills optimizer params with the defaults of torch / FusedAdam', () => {
    const c = loadConfig({ train_micro_batch_size_per_gpu: 4, optimizer: { type: 'adam' } }, { dpWorldSize: 1 });
    expect(c.optimizer).toMatchObject({ type: 'Adam', params: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, bias_correction: true } });
  });

  it('derives precision once: compute stays float32, fp16/bf16 set storage and wire', () => {
    const p = (cfg: object) => loadConfig({ train_micro_batch_size_per_gpu: 1, ...cfg }, { dpWorldSize: 1 }).precision;
    expect(p({ bf16: { enabled: true } })).toEqual({ compute: 'fp32', wire: 'bf16', storage: 'bf16' });
    expect(p({ fp16: { enabled: true, loss_scale: 0 } })).toEqual({ compute: 'fp32', wire: 'fp16', storage: 'fp16' });
    expect(p({ fp16: { enabled: true }, communication_data_type: 'fp32' })).toEqual({ compute: 'fp32', wire: 'fp32', storage: 'fp16' });
    expect(p({ communication_data_type: 'bf16' })).toEqual({ compute: 'fp32', wire: 'bf16', storage: 'fp32' });
  });

  it('is deep-frozen', () => {
    const c = loadConfig({ train_micro_batch_size_per_gpu: 4, optimizer: { type: 'Adam', params: { betas: [0.8, 0.9] } } }, { dpWorldSize: 1 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.optimizer!.params.betas)).toBe(true);
    expect(Object.isFrozen(c.zero_optimization.offload_param)).toBe(true);
    expect(() => {
      (c.optimizer!.params as { lr: number }).lr = 1;
    }).toThrow(TypeError);
  });

  it('accepts the legacy "zero_optimization": true of DeepSpeed\'s getting-started config', () => {
    const c = loadConfig({ train_batch_size: 8, gradient_accumulation_steps: 1, optimizer: { type: 'Adam', params: { lr: 0.00015 } }, fp16: { enabled: true }, zero_optimization: true }, { dpWorldSize: 1 });
    expect(c.zero_optimization.stage).toBe(1);
  });

  it('parses a full DeepSpeed config in the shape of their documentation', () => {
    const ds = {
      train_batch_size: 256,
      train_micro_batch_size_per_gpu: 8,
      gradient_accumulation_steps: 4,
      steps_per_print: 2000,
      optimizer: { type: 'AdamW', params: { lr: 3e-5, betas: [0.8, 0.999], eps: 1e-8, weight_decay: 3e-7 } },
      scheduler: { type: 'WarmupDecayLR', params: { warmup_min_lr: 0, warmup_max_lr: 3e-5, warmup_num_steps: 500, total_num_steps: 10000 } },
      gradient_clipping: 1.0,
      prescale_gradients: false,
      gradient_predivide_factor: 1.0,
      wall_clock_breakdown: false,
      memory_breakdown: false,
      zero_allow_untested_optimizer: true,
      fp16: { enabled: true, auto_cast: false, loss_scale: 0, initial_scale_power: 16, loss_scale_window: 1000, hysteresis: 2, consecutive_hysteresis: false, min_loss_scale: 1 },
      bf16: { enabled: false },
      communication_data_type: 'fp16',
      zero_optimization: {
        stage: 3,
        allgather_partitions: true,
        allgather_bucket_size: 5e8,
        overlap_comm: true,
        reduce_scatter: true,
        reduce_bucket_size: 5e8,
        contiguous_gradients: true,
        offload_optimizer: { device: 'cpu', pin_memory: true },
        offload_param: { device: 'cpu', pin_memory: true },
        sub_group_size: 1e9,
        stage3_prefetch_bucket_size: 5e7,
        stage3_param_persistence_threshold: 1e5,
        stage3_max_live_parameters: 1e9,
        stage3_max_reuse_distance: 1e9,
        stage3_gather_16bit_weights_on_model_save: true,
      },
      activation_checkpointing: { partition_activations: false, cpu_checkpointing: false, contiguous_memory_optimization: false, number_checkpoints: 4, synchronize_checkpoint_boundary: false, profile: false },
      tensorboard: { enabled: true, output_path: 'output/ds_logs/', job_name: 'train_bert' },
      csv_monitor: { enabled: true, output_path: 'output/ds_logs/', job_name: 'train_bert' },
    };
    // What has nothing to act on is refused by name: pinned memory (no device transfers on these backends).
    expect(() => loadConfig(ds, { dpWorldSize: 8 })).toThrow(/zero_optimization\.offload_optimizer\.pin_memory: not supported: true/);
    // (activation_checkpointing's and zero_allow_untested_optimizer's refusals are refusals.ts's; see refusals.test.ts.)
    const built = { ...ds, activation_checkpointing: {}, zero_allow_untested_optimizer: false, zero_optimization: { ...ds.zero_optimization, offload_optimizer: { device: 'cpu' }, offload_param: { device: 'cpu' }, stage3_gather_16bit_weights_on_model_save: false } };
    const c = loadConfig(built, { dpWorldSize: 8 });
    expect(c.zero_optimization.stage).toBe(3);
    expect(c.zero_optimization.stage3_param_persistence_threshold).toBe(1e5);
    expect(c.scheduler?.params.total_num_steps).toBe(10000);
    expect(c.precision).toEqual({ compute: 'fp32', wire: 'fp16', storage: 'fp16' });
    // Accepted for compatibility; initialize() refuses an enabled tensorboard monitor.
    expect(c.tensorboard.enabled).toBe(true);
  });
});
