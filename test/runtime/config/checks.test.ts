import { describe, expect, it } from 'vitest';
import { configError } from './helpers.ts';

const base = { train_micro_batch_size_per_gpu: 2 };

describe('per-type parameters and cross-field rules', () => {
  it("refuses an optimizer parameter the chosen type does not take, as DeepSpeed's constructor call would", () => {
    const e = configError({ ...base, optimizer: { type: 'Adam', params: { lr: 1e-3, momentum: 0.9 } } });
    expect(e.path).toBe('optimizer.params.momentum');
    expect(e.message).toBe(
      'optimizer.params.momentum: not a parameter of Adam (it takes lr, betas, eps, weight_decay, bias_correction, adam_w_mode, torch_adam) in <object>',
    );
    expect(configError({ ...base, optimizer: { type: 'SGD', params: { lr: 0.1, betas: [0.9, 0.9] } } }).path).toBe('optimizer.params.betas');
  });

  it('refuses a scheduler parameter of another scheduler type, with a suggestion', () => {
    const e = configError({ ...base, scheduler: { type: 'WarmupLR', params: { warmup_max_lr: 0.1, total_num_steps: 100 } } });
    expect(e.path).toBe('scheduler.params.total_num_steps');
    expect(e.message).toContain('not a parameter of WarmupLR');
    const f = configError({ ...base, scheduler: { type: 'WarmupDecayLR', params: { total_num_steps: 100, warmup_min_ratio: 0 } } });
    expect(f.message).toBe(
      "scheduler.params.warmup_min_ratio: not a parameter of WarmupDecayLR (it takes warmup_min_lr, warmup_max_lr, warmup_num_steps, warmup_type, total_num_steps); did you mean 'warmup_min_lr'? in <object>",
    );
  });

  it('requires the parameters DeepSpeed requires', () => {
    expect(configError({ ...base, scheduler: { type: 'WarmupDecayLR', params: {} } }).message).toBe('scheduler.params.total_num_steps: WarmupDecayLR needs total_num_steps (<object>)');
    expect(configError({ ...base, scheduler: { type: 'OneCycle', params: { cycle_min_lr: 0.1 } } }).path).toBe('scheduler.params.cycle_max_lr');
  });

  it('refuses contradictory settings with the values involved', () => {
    expect(configError({ ...base, fp16: { enabled: true }, bf16: { enabled: true } }).message).toBe('bf16.enabled: fp16 and bf16 cannot both be enabled (<object>)');
    expect(configError({ ...base, optimizer: { type: 'SGD', params: { nesterov: true } } }).message).toContain('nesterov needs momentum > 0 and dampening 0, got momentum 0, dampening 0');
    expect(configError({ ...base, optimizer: { type: 'Lamb', params: { min_coeff: 2, max_coeff: 1 } } }).message).toContain('min_coeff 2 is greater than max_coeff 1');
    expect(configError({ ...base, optimizer: { type: 'AdamW', params: { adam_w_mode: false } } }).path).toBe('optimizer.params.adam_w_mode');
    expect(configError({ ...base, tensor_parallel: { tp_size: 2, autotp_size: 4 } }).message).toContain('autotp_size 4 != tp_size 2');
    expect(configError({ ...base, train: { steps: 10, epochs: 1 } }).message).toContain('give train.steps (10) or train.epochs (1), not both');
    expect(configError({ ...base, model: { hidden_size: 100, num_hidden_layers: 1, num_attention_heads: 3 } }).message).toBe(
      'model.num_attention_heads: hidden_size 100 is not a multiple of num_attention_heads 3 (<object>)',
    );
    expect(configError({ ...base, model: { hidden_size: 96, num_hidden_layers: 1, num_attention_heads: 6, num_key_value_heads: 4 } }).path).toBe('model.num_key_value_heads');
  });
});
