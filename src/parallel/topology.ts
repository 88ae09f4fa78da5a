/**
 * The 3D grid of ranks: pipe × data × model, model varying fastest (DeepSpeed's
 * PipeModelDataParallelTopology). With P pipeline stages, D data-parallel replicas and M
 * tensor-parallel ranks, world rank
 *
 *   rank = (pipe · D + data) · M + model
 *
 *   P=2, D=2, M=2:   pipe 0: data 0 → ranks 0 1 | data 1 → ranks 2 3
 *                    pipe 1: data 0 → ranks 4 5 | data 1 → ranks 6 7
 *
 * so a tensor-parallel group (the most traffic) is adjacent ranks, on one node when it fits.
 * An axis group is every rank that differs from this one only along that axis.
 */
import { ConfigError } from '../errors.ts';

export type Axis = 'pipe' | 'data' | 'model';

export interface Coord {
  readonly pipe: number;
  readonly data: number;
  readonly model: number;
}

export class Topology {
  readonly pipe: number;
  readonly data: number;
  readonly model: number;

  constructor(dims: { pipe: number; data: number; model: number }) {
    for (const axis of ['pipe', 'data', 'model'] as const) {
      const n = dims[axis];
      if (!Number.isInteger(n) || n < 1) throw new ConfigError(axis === 'model' ? 'tensor_parallel.autotp_size' : axis === 'pipe' ? 'pipeline.stages' : '', `the ${axis} axis must be a positive integer, got ${n}`);
    }
    this.pipe = dims.pipe;
    this.data = dims.data;
    this.model = dims.model;
  }

  /** The data axis is what is left of the world once tp × pp is taken out. */
  static fromWorld(worldSize: number, tp: number, pp: number): Topology {
    if (worldSize % (tp * pp) !== 0)
      throw new ConfigError('tensor_parallel.autotp_size', `world size ${worldSize} is not divisible by tensor parallel ${tp} × pipeline stages ${pp} = ${tp * pp}`);
    return new Topology({ pipe: pp, data: worldSize / (tp * pp), model: tp });
  }

  get worldSize(): number {
    return this.pipe * this.data * this.model;
  }

  rankOf(c: Coord): number {
    return (c.pipe * this.data + c.data) * this.model + c.model;
  }

  coordOf(rank: number): Coord {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.worldSize) throw new RangeError(`Topology.coordOf: rank ${rank} is outside [0, ${this.worldSize})`);
    return { pipe: Math.floor(rank / (this.data * this.model)), data: Math.floor(rank / this.model) % this.data, model: rank % this.model };
  }

  /** The world ranks of `rank`'s group along `axis`, in axis order (group rank i = coordinate i). */
  groupOf(rank: number, axis: Axis): number[] {
    const c = this.coordOf(rank);
    return Array.from({ length: this[axis] }, (_, i) => this.rankOf({ ...c, [axis]: i }));
  }

  /** Every group along `axis` (each a list of world ranks), for creating them on every rank in the same order. */
  allGroups(axis: Axis): number[][] {
    const seen = new Set<string>();
    const out: number[][] = [];
    for (let r = 0; r < this.worldSize; r++) {
      const g = this.groupOf(r, axis);
      const key = g.join(',');
      if (!seen.has(key)) {
        seen.add(key);
        out.push(g);
      }
    }
    return out;
  }
}
