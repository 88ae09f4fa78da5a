import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../../src/errors.ts';
import { parseHostSpec, selectSlots, worldSizeOf } from '../../../src/runtime/launcher/selection.ts';

const pool = [
  { host: 'worker-0', slots: 4 },
  { host: 'worker-1', slots: 4 },
  { host: 'worker-2', slots: 2 },
];

describe('parseHostSpec', () => {
  it('reads whole hosts and slot lists', () => {
    expect([...parseHostSpec('worker-0@worker-1:2,0,2', '--include')]).toEqual([
      ['worker-0', null],
      ['worker-1', [0, 2]],
    ]);
  });
  it.each([['a@@b', 'empty host entry'], [':1', 'missing host name'], ['a:x', 'slot "x" of a'], ['a@a', 'named twice']])(
    'rejects %j',
    (spec, message) => expect(() => parseHostSpec(spec, '--include')).toThrow(message),
  );
});

describe('selectSlots', () => {
  it('keeps every slot when nothing is filtered', () => {
    const nodes = selectSlots(pool, {});
    expect(nodes.map((n) => n.slots)).toEqual([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1]]);
    expect(worldSizeOf(nodes)).toBe(10);
  });
  it('includes whole hosts and chosen slots, in hostfile order', () => {
    expect(selectSlots(pool, { include: 'worker-2@worker-0:0,2' })).toEqual([
      { host: 'worker-0', slots: [0, 2] },
      { host: 'worker-2', slots: [0, 1] },
    ]);
  });
  it('excludes slots and whole hosts', () => {
    expect(selectSlots(pool, { exclude: 'worker-0@worker-1:1,3' })).toEqual([
      { host: 'worker-1', slots: [0, 2] },
      { host: 'worker-2', slots: [0, 1] },
    ]);
  });
  it('takes the first nodes and the first slots per node', () => {
    expect(selectSlots(pool, { numNodes: 2, numProcs: 3 })).toEqual([
      { host: 'worker-0', slots: [0, 1, 2] },
      { host: 'worker-1', slots: [0, 1, 2] },
    ]);
  });
  it.each([
    [{ include: 'worker-9' }, '--include: unknown host worker-9; known hosts: worker-0, worker-1, worker-2'],
    [{ exclude: 'worker-1@nope:0' }, '--exclude: unknown host nope'],
    [{ include: 'worker-2:2' }, '--include: host worker-2 has slots 0..1, asked for slot 2'],
    [{ include: 'worker-0', exclude: 'worker-1' }, '--include and --exclude cannot be used together'],
    [{ exclude: 'worker-0@worker-1@worker-2:0,1' }, 'no slots left to run on after --exclude'],
    [{ numNodes: 4 }, '--num_nodes 4 asks for more nodes than the 3 selected'],
    [{ numProcs: 3 }, 'than host worker-2 has selected (2)'],
    [{ numProcs: 0 }, '--num_procs must be a positive integer, got 0'],
  ])('rejects %j', (opts, message) => {
    expect(() => selectSlots(pool, opts)).toThrow(LaunchError);
    expect(() => selectSlots(pool, opts)).toThrow(message);
  });
});
