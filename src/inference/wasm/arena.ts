/**
 * The model runner's memory: one shared WebAssembly.Memory holding everything the kernels read
 * and write (packed weights, norms, the embedding table, every layer's KV pools, each thread's
 * activations), so that the wasm kernels work in place and worker threads share all of it.
 *
 *   │ 0 … 128 KiB: header, kernels' (unused) stack │ regions, allocated upward … │ free │
 *
 * Allocation is a bump pointer kept in the memory itself (in 64-byte units, updated with
 * Atomics.add), so any thread can allocate; nothing is freed (the runner's lifetime is the
 * memory's). A shared memory can grow without detaching the views made before: a view is valid
 * for every region allocated before it was made, and f32() always makes a fresh one.
 */
import { assert, DeepscaleError } from '../../errors.ts';

/** The runner's memory cannot hold a region it needs. */
export class ArenaFullError extends DeepscaleError {
  constructor(message: string) {
    super('wasm_memory_full', `runner memory: ${message}`);
  }
}

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB: what wasm32 addresses
const UNIT = 64; // allocation granularity (bytes): a cache line, and f32x4-aligned
/** Byte address of the bump pointer (in UNITs); below BASE nothing is handed out. */
const HEADER = 64;
const BASE = 2 * PAGE; // above the kernels' declared minimum memory (their stack lives there)

export class SharedArena {
  /** What one wasm32 memory can address. */
  static readonly MAX_BYTES = MAX_PAGES * PAGE;
  readonly memory: WebAssembly.Memory;
  private readonly header: Int32Array;

  private constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
    this.header = new Int32Array(memory.buffer, HEADER, 1);
  }

  /** A new memory with room for `bytes` of regions (it grows when more are allocated). */
  static create(bytes = 0): SharedArena {
    const pages = Math.ceil((BASE + bytes) / PAGE) + 1;
    assert(pages <= MAX_PAGES, () => `SharedArena: ${bytes} bytes exceed the 4 GiB a wasm memory can address`);
    const arena = new SharedArena(new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true }));
    Atomics.store(arena.header, 0, BASE / UNIT);
    return arena;
  }

  /** The same memory, seen from another thread. */
  static attach(memory: WebAssembly.Memory): SharedArena {
    const arena = new SharedArena(memory);
    assert(Atomics.load(arena.header, 0) >= BASE / UNIT, 'SharedArena.attach: this memory was not made by SharedArena.create');
    return arena;
  }

  /** Bytes allocated so far (regions included, header excluded). */
  get allocatedBytes(): number {
    return Atomics.load(this.header, 0) * UNIT - BASE;
  }

  /**
   * A new region of `bytes` (rounded up to 64), zeroed; its byte offset. The bump pointer moves
   * only when the region fits (compare-and-swap, so threads can allocate at once); when the memory
   * cannot grow to hold it, the pointer is put back if nobody allocated since. Either failure is an
   * ArenaFullError naming `what`.
   */
  alloc(bytes: number, what: string): number {
    assert(Number.isInteger(bytes) && bytes >= 0, () => `SharedArena.alloc(${what}): bad size ${bytes}`);
    const units = Math.ceil(bytes / UNIT);
    let cur: number;
    do {
      cur = Atomics.load(this.header, 0);
      if ((cur + units) * UNIT > SharedArena.MAX_BYTES) {
        throw new ArenaFullError(`${what} needs ${bytes} bytes, but ${cur * UNIT - BASE} of the 4 GiB one WebAssembly memory addresses are taken; lower --kv-cache-memory or --max-num-batched-tokens, or use a smaller model`);
      }
    } while (Atomics.compareExchange(this.header, 0, cur, cur + units) !== cur);
    const start = cur * UNIT;
    const end = start + units * UNIT;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Several threads may grow at once; each grows to cover its own end (a little over-growth is harmless).
      try {
        this.memory.grow(Math.min(Math.ceil((end - have) / PAGE), MAX_PAGES - have / PAGE));
      } catch (e) {
        if (this.memory.buffer.byteLength < end) {
          Atomics.compareExchange(this.header, 0, cur + units, cur);
          throw new ArenaFullError(`cannot grow the runner's memory to ${end} bytes for ${what}: ${(e as Error).message}`);
        }
      }
    }
    return start;
  }

  /** A Float32Array over [byteOffset, byteOffset + 4·length). */
  f32(byteOffset: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, byteOffset, length);
  }

  /** A Uint8Array over [byteOffset, byteOffset + length). */
  u8(byteOffset: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, byteOffset, length);
  }

  /** An Int32Array over [byteOffset, byteOffset + 4·length). */
  i32(byteOffset: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, byteOffset, length);
  }

  /** Copies `data` into a new region; its byte offset. */
  put(data: Float32Array, what: string): number {
    const off = this.alloc(4 * data.length, what);
    this.f32(off, data.length).set(data);
    return off;
  }
}

/** A region a thread reuses step after step, replaced by one twice as large when a step needs more. */
export class ScratchRegion {
  private offset = 0;
  private bytes = 0;

  constructor(private readonly arena: SharedArena, private readonly what: string) {}

  /** The byte offset of a region of at least `bytes` (the same one while it is large enough). */
  reserve(bytes: number): number {
    if (bytes > this.bytes) {
      const size = Math.max(bytes, 2 * this.bytes);
      this.offset = this.arena.alloc(size, this.what); // offset and size change only once it succeeded
      this.bytes = size;
    }
    return this.offset;
  }
}
