import { assert } from '../../errors.ts';
import { Rng } from '../../data/rng.ts';
import type { Model, ParamInit, ParamSpec, TpSlice } from '../../models/types.ts';

/**
 * DeepSpeed's flat buffers: every parameter of the model lives in one Float32Array, in the
 * order the layers first name it, and each parameter is a view (offset, numel) into it.
 * Gradients use the same layout, so collectives and optimizers run on whole buffers.
 *
 *   data: | embed_tokens | layers.0.input_layernorm | layers.0.q_proj | … | lm_head | pad |
 *          ^offset 0      ^offset V·D
 *
 * `numel` is the sum of the parameters; `padded` rounds it up so ZeRO can cut it into
 * equal shards (a multiple of `align`). A ZeRO stage that shards gradients (2, 3) or parameters
 * (3) asks for no full buffer of that kind: `grads` / `data` are then empty, and the stage keeps
 * its own shard (src/zero).
 */
export interface FlatStorage {
  /** Allocate the full parameter buffer (false for ZeRO-3). */
  readonly data: boolean;
  /** Allocate the full gradient buffer (false for ZeRO-2 and 3). */
  readonly grads: boolean;
  /** Allocate in SharedArrayBuffers, so host worker threads (ZeRO-Offload) update them in place. */
  readonly shared?: boolean;
}

export interface ParamSegment {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly numel: number;
  readonly init: ParamInit;
  readonly tpDim: number | null;
  /** Under tensor parallelism: the part of the full parameter this segment holds (ParamSpec.slice). */
  readonly slice?: TpSlice;
}

export class FlatParams {
  readonly segments: readonly ParamSegment[];
  readonly byName: ReadonlyMap<string, ParamSegment>;
  readonly numel: number;
  readonly padded: number;
  readonly data: Float32Array;
  readonly grads: Float32Array;

  constructor(specs: readonly ParamSpec[], align = 1, storage: FlatStorage = { data: true, grads: true }) {
    const byName = new Map<string, ParamSegment>();
    const segments: ParamSegment[] = [];
    let offset = 0;
    for (const s of specs) {
      const seen = byName.get(s.name);
      const numel = s.shape.reduce((a, b) => a * b, 1);
      if (seen) {
        assert(seen.numel === numel, () => `parameter ${s.name} is declared twice with shapes [${seen.shape}] and [${s.shape}]`);
        continue;
      }
      const seg = { name: s.name, shape: [...s.shape], offset, numel, init: s.init, tpDim: s.tpDim, ...(s.slice ? { slice: s.slice } : {}) };
      byName.set(s.name, seg);
      segments.push(seg);
      offset += numel;
    }
    this.segments = segments;
    this.byName = byName;
    this.numel = offset;
    this.padded = Math.ceil(offset / align) * align;
    const alloc = (n: number): Float32Array => (storage.shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n));
    this.data = alloc(storage.data ? this.padded : 0);
    this.grads = alloc(storage.grads ? this.padded : 0);
  }

  static forModel(model: Model, align = 1, storage?: FlatStorage): FlatParams {
    return new FlatParams(model.layers.flatMap((l) => l.params), align, storage);
  }

  segment(name: string): ParamSegment {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no parameter named ${name}`);
    return s;
  }

  view(name: string): Float32Array {
    const s = this.segment(name);
    return this.data.subarray(s.offset, s.offset + s.numel);
  }

  gradView(name: string): Float32Array {
    const s = this.segment(name);
    return this.grads.subarray(s.offset, s.offset + s.numel);
  }

  /**
   * Fills every parameter from its init with a seeded normal generator (same seed, same weights on
   * every rank), into `into` (default the full buffer; ZeRO-3 passes a temporary [padded] one).
   */
  initialize(seed: number, into: Float32Array = this.data): void {
    assert(into.length >= this.numel, () => `FlatParams.initialize: buffer has ${into.length} elements, the parameters need ${this.numel}`);
    const rng = new Rng(seed);
    for (const s of this.segments) {
      const v = into.subarray(s.offset, s.offset + s.numel);
      if (s.init.kind === 'ones') v.fill(1);
      else if (s.init.kind === 'zeros') v.fill(0);
      else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * s.init.std;
    }
  }

  zeroGrads(): void {
    this.grads.fill(0);
  }
}
