import { describe, expect, it } from 'vitest';
import { ArenaFullError, ScratchRegion, SharedArena } from '../../../src/inference/wasm/arena.ts';

describe('SharedArena', () => {
  it('hands out disjoint, zeroed, 64-byte aligned regions and grows the memory for them', () => {
    const arena = SharedArena.create(0);
    const before = arena.memory.buffer.byteLength;
    const a = arena.alloc(100, 'a');
    const b = arena.alloc(3 << 20, 'b'); // beyond the initial memory
    expect(a % 64).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 128);
    expect(arena.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(arena.f32(b, 3 << 18).every((x) => x === 0)).toBe(true);
    // another thread's view of the same memory allocates after these
    expect(SharedArena.attach(arena.memory).alloc(4, 'c')).toBeGreaterThanOrEqual(b + (3 << 20));
  });

  it('a region beyond 4 GiB is an ArenaFullError naming it, and nothing is taken', () => {
    const arena = SharedArena.create(0);
    arena.alloc(1000, 'first');
    const taken = arena.allocatedBytes;
    expect(() => arena.alloc(5 * 2 ** 30, 'the KV pools')).toThrow(ArenaFullError);
    expect(() => arena.alloc(5 * 2 ** 30, 'the KV pools')).toThrow(/runner memory: the KV pools needs 5368709120 bytes/);
    expect(arena.allocatedBytes).toBe(taken);
    expect(arena.alloc(64, 'after')).toBe(taken + 2 * 65536); // the next region follows the first
  });

  it('a ScratchRegion that failed to grow keeps its old size, so it never hands out a region too small', () => {
    const arena = SharedArena.create(0);
    const scratch = new ScratchRegion(arena, 'scratch');
    const small = scratch.reserve(1024);
    expect(scratch.reserve(512)).toBe(small);
    expect(() => scratch.reserve(5 * 2 ** 30)).toThrow(ArenaFullError);
    expect(scratch.reserve(1024)).toBe(small);
    const bigger = scratch.reserve(4096); // still larger than what it has: a new region
    expect(bigger).not.toBe(small);
    expect(arena.allocatedBytes).toBeGreaterThanOrEqual(bigger + 4096 - 2 * 65536);
  });
});
