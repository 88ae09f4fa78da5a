import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { AdditionTask, ReversalTask, taskBatches, taskTokenizer } from '../../../src/data/tasks/index.ts';
import { CharTokenizer, loadTokenizer, saveTokenizer } from '../../../src/data/tokenizer/index.ts';

describe('AdditionTask', () => {
  it('generates correct sums within the digit range, reproducibly', () => {
    const task = new AdditionTask({ digits: 3 });
    const ex = task.examples(200, 5);
    for (const e of ex) {
      const m = /^(\d+)\+(\d+)=$/.exec(e.prompt)!;
      expect(Number(m[1]) + Number(m[2])).toBe(Number(e.answer));
      expect(Number(m[1])).toBeLessThan(1000);
      expect(e.prompt.length + e.answer.length).toBeLessThanOrEqual(task.maxChars);
    }
    expect(task.examples(200, 5)).toEqual(ex);
    expect(task.examples(200, 6)).not.toEqual(ex);
  });

  it('evaluates exact match: a perfect solver scores 1, an off-by-one solver 0, half right 0.5', async () => {
    const task = new AdditionTask({ digits: 2 });
    const solve = (p: string): number => p.slice(0, -1).split('+').reduce((s, x) => s + Number(x), 0);
    expect(await task.evaluate(async (ps) => ps.map((p) => String(solve(p))), 100, 1)).toBe(1);
    expect(await task.evaluate(async (ps) => ps.map((p) => String(solve(p) + 1)), 100, 1)).toBe(0);
    expect(await task.evaluate(async (ps) => ps.map((p, i) => String(solve(p) + (i % 2))), 100, 1)).toBe(0.5);
  });
});

describe('ReversalTask', () => {
  it('reverses strings of lengths in range', async () => {
    const task = new ReversalTask({ minLength: 2, maxLength: 5 });
    for (const e of task.examples(100, 3)) {
      const s = e.prompt.slice(0, -1);
      expect(e.prompt.endsWith('>')).toBe(true);
      expect(s.length).toBeGreaterThanOrEqual(2);
      expect(s.length).toBeLessThanOrEqual(5);
      expect(e.answer).toBe([...s].reverse().join(''));
    }
    expect(await task.evaluate(async (ps) => ps.map((p) => [...p.slice(0, -1)].reverse().join('')), 50, 2)).toBe(1);
  });
});

describe('CharTokenizer', () => {
  const tok = taskTokenizer();

  it('has a tiny fixed vocabulary with pad 0, bos 1, eos 2', () => {
    expect(tok.vocabSize).toBe(42);
    expect(tok.special).toEqual({ pad: 0, bos: 1, eos: 2 });
    expect(tok.encode('12+45=57', { addBos: true })).toEqual([1, 4, 5, 13, 7, 8, 14, 8, 10]);
    expect(tok.decode(tok.encode('abc>cba<|eos|>', { allowSpecial: true }), { skipSpecial: true })).toBe('abc>cba');
  });

  it('rejects a character outside the alphabet, naming it and its offset', () => {
    expect(() => tok.encode('12 + 4')).toThrow(InputError);
    expect(() => tok.encode('12 + 4')).toThrow(/" " \(U\+0020\) at offset 2/);
  });

  it('saves a tokenizer.json that HF tokenizers loads to the same ids, and loads it back', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ds-char-')), 'tokenizer.json');
    saveTokenizer(tok, path);
    const hf = new HfTokenizer(JSON.parse(readFileSync(path, 'utf8')), {});
    const text = '<|bos|>93+8=101<|eos|>hello>olleh<|pad|>';
    expect(hf.encode(text).ids).toEqual(tok.encode(text, { allowSpecial: true }));
    expect(hf.decode(tok.encode('93+8=101'))).toBe('93+8=101');
    const back = loadTokenizer(path);
    expect(back).toBeInstanceOf(CharTokenizer);
    expect(back.encode(text, { allowSpecial: true })).toEqual(tok.encode(text, { allowSpecial: true }));
    expect(back.special).toEqual(tok.special);
  });
});

describe('taskBatches', () => {
  const tok = taskTokenizer();
  const task = new AdditionTask({ digits: 2 });

  it('shifts targets by one and masks only the answer and its eos', () => {
    const T = 12;
    const { input, target, mask } = taskBatches({ task, seqLen: T, batchSize: 4, seed: 1 }).next().value;
    const ex = task.examples(4, 1);
    for (let b = 0; b < 4; b++) {
      const row = [...input.slice(b * T, (b + 1) * T)];
      const e = ex[b]!;
      const full = tok.encode(e.prompt + e.answer, { addBos: true }).concat([2]);
      expect(row.slice(0, full.length)).toEqual(full.slice(0, T));
      expect([...target.slice(b * T, b * T + full.length - 1)]).toEqual(full.slice(1));
      const masked = [...target.slice(b * T, (b + 1) * T)].filter((_, t) => mask[b * T + t] === 1);
      expect(tok.decode(masked)).toBe(e.answer + '<|eos|>');
    }
  });

  it('packs several examples per row when asked', () => {
    const T = 64;
    const { input, mask } = taskBatches({ task, seqLen: T, batchSize: 2, seed: 1, pack: true }).next().value;
    const bosCount = [...input.slice(0, T)].filter((x) => x === 1).length;
    expect(bosCount).toBeGreaterThanOrEqual(4);
    const eosTargets = [...mask.slice(0, T)].reduce((s, x) => s + x, 0);
    expect(eosTargets).toBeGreaterThan(bosCount * 2 - 1);
  });

  it('splits one global batch across ranks', () => {
    const it1 = taskBatches({ task, seqLen: 12, batchSize: 6, seed: 3 });
    const r0 = taskBatches({ task, seqLen: 12, batchSize: 3, seed: 3, rank: 0, worldSize: 2 });
    const r1 = taskBatches({ task, seqLen: 12, batchSize: 3, seed: 3, rank: 1, worldSize: 2 });
    for (let step = 0; step < 3; step++) {
      const g = it1.next().value;
      expect([...r0.next().value.input, ...r1.next().value.input]).toEqual([...g.input]);
    }
  });

  it('rejects a seqLen too short for the task, naming both numbers', () => {
    expect(() => taskBatches({ task, seqLen: 6, batchSize: 1, seed: 0 }).next()).toThrow(/seqLen 6 .*at least 10/);
  });
});
