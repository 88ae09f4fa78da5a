import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/runtime/config/index.ts';
import { configError } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dscfg-'));
function file(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

describe('loadConfig: unknown keys', () => {
  it('rejects an unknown key at any depth with its JSON path and the nearest valid key', () => {
    const cases: [object, string, string][] = [
      [{ optimizer: { type: 'Adam', params: { lr_rate: 1 } } }, 'optimizer.params.lr_rate', "did you mean 'lr'?"],
      [{ gradient_clippin: 1 }, 'gradient_clippin', "did you mean 'gradient_clipping'?"],
      [{ zero_optimization: { stage: 1, ofload_optimizer: {} } }, 'zero_optimization.ofload_optimizer', "did you mean 'offload_optimizer'?"],
      [{ zero_optimization: { offload_optimizer: { devise: 'cpu' } } }, 'zero_optimization.offload_optimizer.devise', "did you mean 'device'?"],
      [{ model: { hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, rope_thetta: 1 } }, 'model.rope_thetta', "did you mean 'rope_theta'?"],
      [{ train: { checkpoint: { save_evry: 10 } } }, 'train.checkpoint.save_evry', "did you mean 'save_every'?"],
    ];
    for (const [cfg, p, hint] of cases) {
      const e = configError({ train_micro_batch_size_per_gpu: 4, ...cfg });
      expect(e.path).toBe(p);
      expect(e.message).toBe(`${p}: unknown key; ${hint} in <object>`);
    }
  });

  it('gives no suggestion when nothing is close', () => {
    const e = configError({ train_micro_batch_size_per_gpu: 4, completely_unrelated_thing: 1 });
    expect(e.message).toBe('completely_unrelated_thing: unknown key in <object>');
  });
});

describe('loadConfig: wrong values', () => {
  it('names the path, the expected type and the value received', () => {
    const e = configError({ train_micro_batch_size_per_gpu: 'four' });
    expect(e.path).toBe('train_micro_batch_size_per_gpu');
    expect(e.message).toBe('train_micro_batch_size_per_gpu: expected number, got "four" (string) in <object>');
    const f = configError({ train_micro_batch_size_per_gpu: 2, optimizer: { type: 'Adam', params: { betas: [0.9] } } });
    expect(f.path).toBe('optimizer.params.betas');
    expect(f.message).toContain('got [0.9] (array)');
  });

  it('suggests the nearest name for a misspelt optimizer or scheduler type', () => {
    const e = configError({ train_micro_batch_size_per_gpu: 2, optimizer: { type: 'Adamx' } });
    expect(e.path).toBe('optimizer.type');
    expect(e.message).toBe(`optimizer.type: expected one of 'Adam', 'AdamW', 'SGD', 'Lamb', 'OneBitAdam', got "Adamx" (string); did you mean 'Adam'? in <object>`);
    expect(configError({ train_micro_batch_size_per_gpu: 2, scheduler: { type: 'WarmupCosine', params: { total_num_steps: 9 } } }).message).toContain("did you mean 'WarmupCosineLR'?");
  });

  it('explains the Hugging Face "auto" placeholder', () => {
    const e = configError({ train_micro_batch_size_per_gpu: 'auto' });
    expect(e.message).toContain('the Hugging Face Trainer fills in "auto" values');
  });

  it('checks ranges (ZeRO stage 0-3)', () => {
    const e = configError({ train_micro_batch_size_per_gpu: 2, zero_optimization: { stage: 5 } });
    expect(e.path).toBe('zero_optimization.stage');
    expect(e.message).toContain('got 5 (number)');
  });
});

describe('loadConfig: files', () => {
  it('reads JSON5 (comments, unquoted keys, trailing commas) and names file, line and column of a syntax error', () => {
    const good = file('a.json5', "{ // comment\n train_micro_batch_size_per_gpu: 2, optimizer: { type: 'adamw', params: { lr: 3e-4, } }, }");
    const c = loadConfig(good, { dpWorldSize: 1 });
    expect(c.optimizer?.type).toBe('AdamW');
    expect(c.source).toBe(good);
    const bad = file('b.json5', '{\n  train_batch_size: 4,\n  oops\n}');
    const e = configError(bad);
    expect(e.message).toBe(`${bad}:4:1: invalid JSON5: invalid character '}' at 4:1`);
  });

  it('says which file it could not read', () => {
    expect(configError(path.join(tmp, 'missing.json')).message).toBe(`cannot read config file ${path.join(tmp, 'missing.json')}: ENOENT`);
  });

  it('errors from a file name the file', () => {
    const f = file('c.json', '{"train_micro_batch_size_per_gpu": 2, "optimizer": {"type": "Adam", "params": {"lr_rate": 1}}}');
    expect(configError(f).message).toBe(`optimizer.params.lr_rate: unknown key; did you mean 'lr'? in ${f}`);
  });

  it('parses the shipped configs', () => {
    for (const f of fs.readdirSync('configs')) {
      const c = loadConfig(path.join('configs', f), { dpWorldSize: 1 });
      expect(c.model?.hidden_size).toBeGreaterThan(0);
    }
  });
});
