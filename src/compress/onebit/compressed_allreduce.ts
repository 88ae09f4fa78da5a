/**
 * The compressed all-reduce of 1-bit Adam (DeepSpeed's NcclBackend.compressed_allreduce), a
 * collective algorithm beside the ring ones: it averages, it does not sum exactly, and what it
 * loses is carried to the next call by two levels of error feedback. The buffer of n·S elements
 * is cut into one chunk per rank; rank j serves chunk j:
 *
 *   buf [n·S]:  | chunk 0 [0, S) | chunk 1 [S, 2S) | … | chunk n−1 |
 *
 *   1. every rank compresses buf + worker_error (sign_compressor.ts), keeping the new worker error;
 *   2. all-to-all (send/recv): packed chunk j goes to rank j;
 *   3. rank j averages the n packed chunks it holds, adds its server error and compresses again,
 *      keeping the new server error [S];
 *   4. all-gather of the n compressed server chunks: every rank unpacks the same buf.
 *
 * Not a wire dtype: a partial sum cannot be re-encoded hop by hop as a ring would need, so the
 * packed bytes travel as opaque float32 payloads (the TCP group copies float32 bytes verbatim).
 * Per rank it sends (n−1)/n of the packed buffer twice: 2·(n−1)/n · (1/8 + 4/B) bytes per element,
 * against 2·(n−1)/n · 4 for the float32 ring all-reduce.
 */
import type { ProcessGroup } from '../../runtime/comm/index.ts';
import { assert } from '../../errors.ts';
import { compressWithFeedback, decompressInto, packedBytes } from './sign_compressor.ts';

/** One rank's error-feedback state: worker [n·S] (its whole buffer), server [S] (the chunk it serves). */
export interface FeedbackErrors {
  readonly worker: Float32Array;
  readonly server: Float32Array;
}

export function newFeedbackErrors(worldSize: number, chunkElems: number): FeedbackErrors {
  return { worker: new Float32Array(worldSize * chunkElems), server: new Float32Array(chunkElems) };
}

/** The padded chunk length S for `numel` elements at `worldSize` ranks: a multiple of blockElems with n·S ≥ numel. */
export function chunkElemsFor(numel: number, worldSize: number, blockElems: number): number {
  return Math.max(1, Math.ceil(numel / (worldSize * blockElems))) * blockElems;
}

/** In place: buf [n·S] ← the error-compensated, 1-bit compressed mean over the group's ranks. */
export async function compressedAllReduce(pg: ProcessGroup, buf: Float32Array, errors: FeedbackErrors, blockElems: number): Promise<void> {
  const { worldSize: n, rank: r } = pg;
  const S = buf.length / n;
  assert(Number.isInteger(S) && S % blockElems === 0, () => `compressedAllReduce: ${buf.length} elements do not cut into ${n} chunks of whole blocks of ${blockElems}`);
  assert(errors.worker.length === buf.length && errors.server.length === S,
    () => `compressedAllReduce: error buffers [${errors.worker.length}], [${errors.server.length}] do not fit buf [${buf.length}] at ${n} ranks (want [${buf.length}], [${S}])`);
  const cb = packedBytes(S, blockElems);
  const slot = (u8: Uint8Array, k: number): Uint8Array => u8.subarray(k * cb, (k + 1) * cb);

  // 1. Worker compression, one packed chunk per destination.
  const outbox = new Uint8Array(n * cb);
  for (let j = 0; j < n; j++) compressWithFeedback(buf.subarray(j * S, (j + 1) * S), errors.worker.subarray(j * S, (j + 1) * S), slot(outbox, j), blockElems);

  // 2. All-to-all: inbox slot k holds rank k's packed chunk r.
  const inbox = new Uint8Array(n * cb);
  slot(inbox, r).set(slot(outbox, r));
  const moves: Promise<void>[] = [];
  for (let k = 0; k < n; k++) {
    if (k === r) continue;
    moves.push(pg.send(asFloats(slot(outbox, k)), k), pg.recv(asFloats(slot(inbox, k)), k));
  }
  await Promise.all(moves);

  // 3. Serve chunk r: the mean of the n decompressed chunks, compressed again with the server error.
  const mean = new Float32Array(S);
  for (let k = 0; k < n; k++) decompressInto(slot(inbox, k), mean, blockElems, 1 / n, true);
  const served = new Uint8Array(cb);
  compressWithFeedback(mean, errors.server, served, blockElems);

  // 4. Every rank unpacks every served chunk.
  const gathered = new Uint8Array(n * cb);
  await pg.allGather(asFloats(served), asFloats(gathered));
  for (let j = 0; j < n; j++) decompressInto(slot(gathered, j), buf.subarray(j * S, (j + 1) * S), blockElems);
}

/** The same bytes as float32 elements, for the group's float32 payloads (cb is a multiple of 4). */
function asFloats(u8: Uint8Array): Float32Array {
  return new Float32Array(u8.buffer, u8.byteOffset, u8.byteLength / 4);
}
