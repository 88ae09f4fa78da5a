/**
 * The two protobuf messages a scalar event file needs, encoded by hand (tensorflow/core/util/
 * event.proto and framework/summary.proto; the field numbers are the format):
 *
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 *
 * Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
 */

class ProtoWriter {
  private readonly parts: number[] = [];

  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.parts.push(b);
    } while (x !== 0n);
    return this;
  }

  private key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  double(field: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.key(field, 1).parts.push(...b);
    return this;
  }

  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.key(field, 5).parts.push(...b);
    return this;
  }

  int64(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }

  bytes(field: number, v: Uint8Array): this {
    this.key(field, 2).varint(v.length).parts.push(...v);
    return this;
  }

  string(field: number, v: string): this {
    return this.bytes(field, new TextEncoder().encode(v));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** The first event of every file: names the format version TensorBoard expects. */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, 'brain.Event:2').finish();
}

/** One Event holding scalar summaries for `step`. */
export function scalarEvent(wallTime: number, step: number, scalars: Readonly<Record<string, number>>): Uint8Array {
  const summary = new ProtoWriter();
  for (const [tag, value] of Object.entries(scalars)) summary.bytes(1, new ProtoWriter().string(1, tag).float(2, value).finish());
  return new ProtoWriter().double(1, wallTime).int64(2, step).bytes(5, summary.finish()).finish();
}
