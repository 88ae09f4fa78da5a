import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.ts';
import { parseHostfile, readHostfile } from '../../../src/runtime/launcher/hostfile.ts';

describe('parseHostfile', () => {
  it('reads hosts and slots, skipping comments and blank lines', () => {
    const text = '# cluster\nworker-0 slots=4\n\n  worker-1   slots=2  # half\r\n';
    expect(parseHostfile(text, 'hosts')).toEqual([
      { host: 'worker-0', slots: 4 },
      { host: 'worker-1', slots: 2 },
    ]);
  });

  it.each([
    ['worker-0 slots=4\nworker-1\n', 'hosts:2: expected "host slots=N", got "worker-1"'],
    ['worker-0 slots=4\n\nworker-1 slots=0\n', 'hosts:3: slots must be a positive integer, got "0" for host worker-1'],
    ['worker-0 slots=two\n', 'hosts:1: slots must be a positive integer, got "two"'],
    ['worker-0 slots=1.5\n', 'hosts:1: slots must be a positive integer, got "1.5"'],
    ['a slots=1\n# x\na slots=2\n', 'hosts:3: host a is listed twice'],
    ['worker-0 gpus=4\n', 'hosts:1: expected "host slots=N"'],
    ['# only a comment\n\n', 'hosts: the hostfile lists no hosts'],
  ])('rejects %j with the file and line', (text, message) => {
    expect(() => parseHostfile(text, 'hosts')).toThrow(LaunchError);
    expect(() => parseHostfile(text, 'hosts')).toThrow(message);
  });
});

describe('readHostfile', () => {
  it('reads from disk and names a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostfile-'));
    const path = join(dir, 'hosts');
    writeFileSync(path, 'a slots=1\nb slots=3\n');
    expect(readHostfile(path).map((h) => h.slots)).toEqual([1, 3]);
    expect(() => readHostfile(join(dir, 'missing'))).toThrow(/cannot read hostfile .*missing: ENOENT/);
  });
});
