import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

describe('ds bench serve --offline', () => {
  it("refuses the online benchmark's flags by name instead of ignoring them", async () => {
    const r = await promisify(execFile)('node', ['bin/ds.js', 'bench', 'serve', '--offline', '--url', 'http://127.0.0.1:1', '--result-file=/tmp/x.json'], { encoding: 'utf8' }).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).not.toBe(0);
    expect((r as { stderr: string }).stderr).toMatch(/--offline: --url, --result-file belong to the online benchmark/);
    expect((r as { stderr: string }).stderr).not.toMatch(/\n\s+at /); // a user's mistake: no stack trace
  }, 60_000);

  it('refuses its own flags without --offline, and a bad --batches by name', async () => {
    const run = (...args: string[]) => promisify(execFile)('node', ['bin/ds.js', 'bench', 'serve', ...args], { encoding: 'utf8' }).catch((e: { code: number; stderr: string }) => e) as Promise<{ code: number; stderr: string }>;
    const online = await run('--url', 'http://127.0.0.1:1', '--batches', '1,8', '--decode-only');
    expect(online.code).not.toBe(0);
    expect(online.stderr).toMatch(/bench serve: --batches, --decode-only belong to --offline/);
    const url = await run('--url', 'http://127.0.0.1:1', '--compare-offline');
    expect(url.stderr).toMatch(/--compare-offline needs --model .*not --url/);
    const bad = await run('--offline', '--batches', '1,x');
    expect(bad.stderr).toMatch(/--batches 1,x: give positive integers separated by commas/);
  }, 60_000);

  it('--decode-only prints the decode figures at --batches and the prompt tok/s', async () => {
    const { stdout } = await promisify(execFile)('node', ['bin/ds.js', 'bench', 'serve', '--offline', '--decode-only', '--batches', '1,2', '--decode-tokens', '4', '--prompt-tokens', '32', '--threads', '1', '--json'], { encoding: 'utf8' });
    const r = JSON.parse(stdout) as { decode: { batch: number; decodeTokens: number }[]; prompt: { promptTokens: number; tokPerS: number }; continuous?: unknown };
    expect(r.decode.map((d) => [d.batch, d.decodeTokens])).toEqual([[1, 3], [2, 6]]); // the first token of each comes from the prefill
    expect(r.prompt.promptTokens).toBe(32);
    expect(r.prompt.tokPerS).toBeGreaterThan(0);
    expect(r.continuous).toBeUndefined();
  }, 60_000);
});
