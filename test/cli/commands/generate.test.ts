/** `ds generate` end to end through the CLI: greedy tokens equal the float64 reference. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinyGguf } from '../../inference/engine/fixture.ts';

const fx = tinyGguf(9);
afterAll(() => fx.cleanup());

const ds = (...args: string[]) => execFileSync('node', ['bin/ds.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const dsIn = (env: Record<string, string>, ...args: string[]) => execFileSync('node', ['bin/ds.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });

describe('ds generate', () => {
  it('--json with temperature 0 gives the reference greedy tokens and their text', () => {
    const out = JSON.parse(ds('generate', '--model', fx.path, '--prompt', 'hello', '--max-tokens', '6', '--temperature', '0', '--json'));
    expect(out.prompt_token_ids).toEqual([256, 104, 101, 108, 108, 111]);
    expect(out.token_ids).toEqual(referenceGreedy(fx.model, out.prompt_token_ids, out.token_ids.length));
    expect(out.finish_reason).toBe(out.token_ids.length === 6 ? 'length' : 'stop');
    expect(out.text).toBe(fx.model.tokenizer.decode(out.token_ids.filter((t: number) => t !== 257), { skipSpecial: true }));
  }, 20_000);

  it('--model NAME finds the model in $DS_MODELS, and 2 threads give the tokens of one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-models-'));
    try {
      copyFileSync(fx.path, join(dir, 'tiny.gguf'));
      const run = (threads: string) => JSON.parse(dsIn({ DS_MODELS: dir }, 'generate', '--model', 'tiny', '--prompt', 'hello', '--max-tokens', '6', '--temperature', '0', '--threads', threads, '--json'));
      const one = run('1');
      expect(one.token_ids).toEqual(referenceGreedy(fx.model, one.prompt_token_ids, one.token_ids.length));
      expect(run('2').token_ids).toEqual(one.token_ids);
      expect(() => dsIn({ DS_MODELS: dir }, 'generate', '--model', 'tiny2', '--prompt', 'x')).toThrow(/--model tiny2: no such file or directory, and no model of that name in .*\(it has: tiny\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('a prompt longer than the context fails with the request error', () => {
    expect(() => ds('generate', '--model', fx.path, '--prompt', 'x'.repeat(60), '--max-tokens', '1')).toThrow(/maximum context length is 48 tokens/);
  }, 20_000);
});
