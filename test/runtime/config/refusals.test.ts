import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/runtime/config/index.ts';
import { configError } from './helpers.ts';
import { refuseForBackend } from '../../../src/runtime/config/refusals.ts';

const base = { train_batch_size: 4 };

describe('DeepSpeed keys deepscale cannot honour are refused by name, with the reason', () => {
  const cases: [string, object][] = [
    ['activation_checkpointing.partition_activations', { activation_checkpointing: { partition_activations: true } }],
    ['activation_checkpointing.contiguous_memory_optimization', { activation_checkpointing: { contiguous_memory_optimization: true } }],
    ['activation_checkpointing.number_checkpoints', { activation_checkpointing: { number_checkpoints: 4 } }],
    ['activation_checkpointing.profile', { activation_checkpointing: { profile: true } }],
    ['prescale_gradients', { prescale_gradients: true }],
    ['gradient_predivide_factor', { gradient_predivide_factor: 2 }],
    ['zero_allow_untested_optimizer', { zero_allow_untested_optimizer: true }],
    ['flops_profiler.recompute_fwd_factor', { flops_profiler: { enabled: true, recompute_fwd_factor: 1 } }],
  ];
  for (const [path, cfg] of cases) {
    it(path, () => {
      const e = configError({ ...base, ...cfg });
      expect(e.path).toBe(path);
      expect(e.message.length).toBeGreaterThan(path.length + 40); // a reason, not just the name
    });
  }

  it('accepts the same keys at their DeepSpeed defaults', () => {
    expect(() => loadConfig({ ...base, prescale_gradients: false, gradient_predivide_factor: 1, zero_allow_untested_optimizer: false, activation_checkpointing: { partition_activations: false, cpu_checkpointing: true } }, { dpWorldSize: 1 })).not.toThrow();
  });
});

describe('keys that depend on the backend', () => {
  it('cpu_checkpointing is refused where activations live on a device (tensorflow, webgpu), accepted on wasm and cpu', () => {
    const cfg = { activation_checkpointing: { cpu_checkpointing: true } };
    for (const b of ['tensorflow', 'webgpu']) expect(() => refuseForBackend(cfg, b)).toThrow(`activation_checkpointing.cpu_checkpointing: moving checkpointed activations off the device is not built for the ${b} backend`);
    for (const b of ['wasm', 'cpu']) expect(() => refuseForBackend(cfg, b)).not.toThrow();
  });
});

describe('activation_checkpointing', () => {
  const enabled = (cfg: object): unknown => loadConfig({ ...base, ...cfg }, { dpWorldSize: 1 }).activation_checkpointing.enabled;
  it('a DeepSpeed block (no deepscale "enabled" key) turns recomputation on', () => {
    expect(enabled({ activation_checkpointing: { cpu_checkpointing: false, synchronize_checkpoint_boundary: false } })).toBe(true);
  });
  it('is off without the block, and "enabled: false" keeps it off', () => {
    expect(enabled({})).toBe(false);
    expect(enabled({ activation_checkpointing: { enabled: false } })).toBe(false);
  });
});

describe('monitors', () => {
  it('tensorboard and flops_profiler take DeepSpeed\'s keys and defaults', () => {
    const c = loadConfig({ ...base, tensorboard: { enabled: true }, flops_profiler: { enabled: true } }, { dpWorldSize: 1 });
    expect(c.tensorboard).toEqual({ enabled: true, output_path: 'runs/', job_name: 'DeepSpeedJobName' });
    expect(c.flops_profiler).toEqual({ enabled: true, recompute_fwd_factor: 0, profile_step: 1, module_depth: -1, top_modules: 1, detailed: true, output_file: null });
  });
  it('a misspelt profiler key names the one meant', () => {
    expect(configError({ ...base, flops_profiler: { profile_stp: 3 } }).message).toMatch(/did you mean 'profile_step'/);
  });
});
