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
});
