/** `ds generate` end to end through the CLI: greedy tokens equal the float64 reference. */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinyGguf } from '../../inference/engine/fixture.ts';

const fx = tinyGguf(9);
afterAll(() => fx.cleanup());

const ds = (...args: string[]) => execFileSync('node', ['bin/ds.js', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('ds generate', () => {
  it('--json with temperature 0 gives the reference greedy tokens and their text', () => {
    const out = JSON.parse(ds('generate', '--model', fx.path, '--prompt', 'hello', '--max-tokens', '6', '--temperature', '0', '--json'));
    expect(out.prompt_token_ids).toEqual([256, 104, 101, 108, 108, 111]);
    expect(out.token_ids).toEqual(referenceGreedy(fx.model, out.prompt_token_ids, out.token_ids.length));
    expect(out.finish_reason).toBe(out.token_ids.length === 6 ? 'length' : 'stop');
    expect(out.text).toBe(fx.model.tokenizer.decode(out.token_ids.filter((t: number) => t !== 257), { skipSpecial: true }));
  }, 20_000);

  it('a prompt longer than the context fails with the request error', () => {
    expect(() => ds('generate', '--model', fx.path, '--prompt', 'x'.repeat(60), '--max-tokens', '1')).toThrow(/maximum context length is 48 tokens/);
  }, 20_000);
});
