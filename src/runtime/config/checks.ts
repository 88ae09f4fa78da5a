import { ConfigError } from '../../errors.ts';
import { log } from '../logger.ts';
import type { RawConfig } from './schema.ts';
import { nearest } from './suggest.ts';
import { checkZero } from './zero_checks.ts';
import { checkOneBit } from './onebit_checks.ts';
import { checkCompression } from './compression.ts';

/**
 * Rules the schema cannot state key by key. DeepSpeed passes `optimizer.params` and
 * `scheduler.params` as keyword arguments to the chosen class, so a key that class does not
 * take fails there; here it fails at load, with the keys that type does take.
 */
const OPTIMIZER_KEYS: Record<string, readonly string[]> = {
  Adam: ['lr', 'betas', 'eps', 'weight_decay', 'bias_correction', 'adam_w_mode', 'torch_adam'],
  AdamW: ['lr', 'betas', 'eps', 'weight_decay', 'bias_correction', 'adam_w_mode', 'torch_adam'],
  SGD: ['lr', 'momentum', 'dampening', 'nesterov', 'weight_decay'],
  Lamb: ['lr', 'betas', 'eps', 'weight_decay', 'bias_correction', 'max_coeff', 'min_coeff'],
  OneBitAdam: ['lr', 'betas', 'eps', 'weight_decay', 'bias_correction', 'freeze_step', 'cuda_aware', 'comm_backend_name'],
};

const WARMUP = ['warmup_min_lr', 'warmup_max_lr', 'warmup_num_steps', 'warmup_type'];
const SCHEDULER_KEYS: Record<string, { keys: readonly string[]; required: readonly string[] }> = {
  WarmupLR: { keys: WARMUP, required: [] },
  WarmupDecayLR: { keys: [...WARMUP, 'total_num_steps'], required: ['total_num_steps'] },
  WarmupCosineLR: { keys: ['total_num_steps', 'warmup_min_ratio', 'warmup_num_steps', 'cos_min_ratio', 'warmup_type'], required: ['total_num_steps'] },
  OneCycle: {
    keys: [
      'cycle_min_lr', 'cycle_max_lr', 'decay_lr_rate', 'cycle_first_step_size', 'cycle_second_step_size', 'cycle_first_stair_count',
      'cycle_second_stair_count', 'decay_step_size', 'cycle_momentum', 'cycle_min_mom', 'cycle_max_mom', 'decay_mom_rate',
    ],
    required: ['cycle_min_lr', 'cycle_max_lr'],
  },
};

function onlyKeys(given: readonly string[], allowed: readonly string[], path: string, type: string, where: string): void {
  for (const k of given) {
    if (allowed.includes(k)) continue;
    const guess = nearest(k, allowed);
    throw new ConfigError(`${path}.${k}`, `not a parameter of ${type} (it takes ${allowed.join(', ')})${guess ? `; did you mean '${guess}'?` : ''} in ${where}`);
  }
}

const keysOf = (o: unknown): string[] => (o && typeof o === 'object' ? Object.keys(o) : []);

/** `raw` is the input as written (to tell given keys from filled defaults), `cfg` the parsed config. */
export function checkConfig(raw: unknown, cfg: RawConfig, where: string): void {
  const r = raw as { optimizer?: { params?: unknown }; scheduler?: { params?: unknown } };
  const opt = cfg.optimizer;
  if (opt) {
    onlyKeys(keysOf(r.optimizer?.params), OPTIMIZER_KEYS[opt.type]!, 'optimizer.params', opt.type, where);
    const p = opt.params;
    if (opt.type === 'AdamW' && p.adam_w_mode === false)
      throw new ConfigError('optimizer.params.adam_w_mode', `AdamW always decouples weight decay; for L2 decay use type "Adam" with adam_w_mode false (${where})`);
    if (opt.type === 'SGD' && p.nesterov && (p.momentum <= 0 || p.dampening !== 0))
      throw new ConfigError('optimizer.params.nesterov', `nesterov needs momentum > 0 and dampening 0, got momentum ${p.momentum}, dampening ${p.dampening} (${where})`);
    if (opt.type === 'Lamb' && p.min_coeff > p.max_coeff)
      throw new ConfigError('optimizer.params.min_coeff', `min_coeff ${p.min_coeff} is greater than max_coeff ${p.max_coeff} (${where})`);
  }

  const sch = cfg.scheduler;
  if (sch) {
    const spec = SCHEDULER_KEYS[sch.type]!;
    onlyKeys(keysOf(r.scheduler?.params), spec.keys, 'scheduler.params', sch.type, where);
    const params = sch.params as Record<string, unknown>;
    for (const k of spec.required) if (params[k] === undefined) throw new ConfigError(`scheduler.params.${k}`, `${sch.type} needs ${k} (${where})`);
    const total = sch.params.total_num_steps;
    const warm = sch.params.warmup_num_steps ?? 1000;
    if (total !== undefined && total < warm) log.warn(`${where}: scheduler.params.total_num_steps ${total} is less than warmup_num_steps ${warm}`);
  }

  checkZero(cfg, where);
  checkOneBit(cfg, where);
  checkCompression(cfg.compression_training, cfg.distillation, where);

  if (cfg.fp16.enabled && cfg.bf16.enabled) throw new ConfigError('bf16.enabled', `fp16 and bf16 cannot both be enabled (${where})`);

  const tp = cfg.tensor_parallel;
  if (tp.tp_size !== undefined && tp.autotp_size !== undefined && tp.tp_size !== tp.autotp_size)
    throw new ConfigError('tensor_parallel.autotp_size', `autotp_size ${tp.autotp_size} != tp_size ${tp.tp_size}; give one of them (${where})`);

  if (cfg.train.steps !== undefined && cfg.train.epochs !== undefined)
    throw new ConfigError('train.epochs', `give train.steps (${cfg.train.steps}) or train.epochs (${cfg.train.epochs}), not both (${where})`);

  const m = cfg.model;
  if (m) {
    if (m.head_dim === undefined && m.hidden_size % m.num_attention_heads !== 0)
      throw new ConfigError('model.num_attention_heads', `hidden_size ${m.hidden_size} is not a multiple of num_attention_heads ${m.num_attention_heads} (${where})`);
    if (m.num_key_value_heads !== undefined && m.num_attention_heads % m.num_key_value_heads !== 0)
      throw new ConfigError('model.num_key_value_heads', `num_attention_heads ${m.num_attention_heads} is not a multiple of num_key_value_heads ${m.num_key_value_heads} (${where})`);
  }
}
