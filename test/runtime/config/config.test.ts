import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/runtime/config/index.ts';
import { ConfigError } from '../../../src/errors.ts';

function err(cfg: object | string, dp = 1): ConfigError {
  try {
    loadConfig(cfg, { dpWorldSize: dp });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('rejects unknown keys at any depth, suggesting the nearest valid key', () => {
    const a = err({ train_micro_batch_size_per_gpu: 4, optimizer: { type: 'Adam', params: { lr_rate: 1 } } });
    expect(a.path).toBe('optimizer.params.lr_rate');
    expect(a.message).toContain("did you mean 'lr'");
    const b = err({ train_micro_batch_size_per_gpu: 4, gradient_clippin: 1 });
    expect(b.path).toBe('gradient_clippin');
    expect(b.message).toContain("did you mean 'gradient_clipping'");
    const c = err({ train_micro_batch_size_per_gpu: 4, zero_optimization: { stage: 1, ofload_optimizer: {} } });
    expect(c.message).toContain("did you mean 'offload_optimizer'");
  });

  it('names the path and the value for a wrong type', () => {
    const e = err({ train_micro_batch_size_per_gpu: 'four' });
    expect(e.path).toBe('train_micro_batch_size_per_gpu');
    expect(e.message).toContain('"four"');
  });

  it('applies the batch rule and shows the numbers of a mismatch', () => {
    expect(loadConfig({ train_batch_size: 32, train_micro_batch_size_per_gpu: 4 }, { dpWorldSize: 2 }).gradient_accumulation_steps).toBe(4);
    expect(loadConfig({ train_batch_size: 32, gradient_accumulation_steps: 2 }, { dpWorldSize: 2 }).train_micro_batch_size_per_gpu).toBe(8);
    expect(loadConfig({ train_micro_batch_size_per_gpu: 4 }, { dpWorldSize: 3 }).train_batch_size).toBe(12);
    const e = err({ train_batch_size: 32, train_micro_batch_size_per_gpu: 4, gradient_accumulation_steps: 2 }, 2);
    expect(e.message).toContain('train_batch_size 32 != train_micro_batch_size_per_gpu 4 × gradient_accumulation_steps 2 × data-parallel size 2 = 16');
  });

  it('reads JSON5 and reports syntax errors with file, line and column', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dscfg-'));
    const good = path.join(dir, 'a.json5');
    fs.writeFileSync(good, "{ // comment\n train_micro_batch_size_per_gpu: 2, optimizer: { type: 'adamw', params: { lr: 3e-4, } }, bf16: { enabled: true } }");
    const c = loadConfig(good, { dpWorldSize: 1 });
    expect(c.optimizer?.type).toBe('AdamW');
    expect(c.precision).toEqual({ compute: 'fp32', wire: 'bf16', storage: 'bf16' });
    expect(Object.isFrozen(c.optimizer?.params)).toBe(true);
    const bad = path.join(dir, 'b.json5');
    fs.writeFileSync(bad, '{\n  train_batch_size: 4,\n  oops\n}');
    expect(err(bad).message).toMatch(/b\.json5:4:1: invalid JSON5/);
  });

  it('parses the shipped configs', () => {
    for (const f of fs.readdirSync('configs')) loadConfig(path.join('configs', f), { dpWorldSize: 1 });
  });
});
