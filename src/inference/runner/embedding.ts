import type { GgmlTypeId } from '../loaders/gguf/constants.ts';
import { tensorType } from '../loaders/gguf/tensor_types.ts';
import type { SharedArena } from '../wasm/arena.ts';

/**
 * The token embedding table in the arena: float32 [V, D], or V rows of a stored type's blocks,
 * dequantized row by row as tokens look them up (a step reads a few rows of a table that may be
 * the largest tensor of the model, so it stays in its blocks).
 */
export class EmbeddingTable {
  private readonly table: Float32Array | null;
  private readonly rowBytes: number;

  constructor(private readonly arena: SharedArena, private readonly offset: number, private readonly type: GgmlTypeId, V: number, private readonly D: number) {
    this.table = type === 0 ? arena.f32(offset, V * D) : null;
    const t = type === 0 ? null : tensorType(type);
    this.rowBytes = t ? (D / t.elems) * t.bytes : 4 * D;
  }

  /** out[n, :] = row ids[n] for every n.  out: [ids.length, D]. */
  rows(ids: Int32Array, out: Float32Array): void {
    const D = this.D;
    if (this.table) {
      for (let n = 0; n < ids.length; n++) out.set(this.table.subarray(ids[n]! * D, (ids[n]! + 1) * D), n * D);
      return;
    }
    const bytes = this.arena.u8(0, this.arena.memory.buffer.byteLength);
    const dequantize = tensorType(this.type).dequantize;
    for (let n = 0; n < ids.length; n++) out.set(dequantize(bytes, this.offset + ids[n]! * this.rowBytes, D), n * D);
  }
}
