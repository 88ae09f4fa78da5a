import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pipeLines } from '../../../src/runtime/launcher/lines.ts';
import { supervise } from '../../../src/runtime/launcher/supervise.ts';

const node = (code: string, name = 'rank 0') => ({ name, command: process.execPath, args: ['-e', code], env: process.env, prefix: '' });

describe('supervise', () => {
  it('names a rank killed by a signal and exits 128+signal', async () => {
    const r = await supervise([node("process.kill(process.pid, 'SIGKILL')", 'rank 1')], { graceMs: 500 });
    expect(r).toEqual({ exitCode: 137, failure: 'rank 1 was killed by SIGKILL' });
  });
  it('names a program that cannot start', async () => {
    const r = await supervise([{ name: 'mpirun', command: 'no-such-mpirun-here', args: [], env: process.env, prefix: null }], { graceMs: 500 });
    expect(r).toEqual({ exitCode: 127, failure: 'mpirun: cannot start no-such-mpirun-here: ENOENT' });
  });
  it('succeeds when every process exits 0', async () => {
    expect(await supervise([node(''), node('', 'rank 1')], { graceMs: 500 })).toEqual({ exitCode: 0, failure: null });
  });
});

describe('pipeLines', () => {
  it('prefixes whole lines across chunk boundaries and flushes a last partial line', async () => {
    const src = new PassThrough();
    const dst = new PassThrough();
    const writes: string[] = [];
    dst.on('data', (d: Buffer) => writes.push(d.toString()));
    const done = pipeLines(src, dst, '[rank 2] ');
    src.write('ab');
    src.write('c\nde');
    src.write('f\ng\nh€');
    src.end('i');
    await done;
    expect(writes).toEqual(['[rank 2] abc\n', '[rank 2] def\n[rank 2] g\n', '[rank 2] h€i\n']);
  });
});
