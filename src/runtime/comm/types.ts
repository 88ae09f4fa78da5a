/**
 * The process-group contract: what the engine, ZeRO and the parallel layouts call.
 * Buffers are Float32Array views (often into one flat buffer); collectives work in place
 * on exactly the elements of the view.
 */

/** How values are combined. `avg` is a sum divided by the group size on the owning rank. */
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';

/** What travels on the wire. Reductions are always done in float32 after unpacking. */
export type WireDtype = 'float32' | 'fp16' | 'bf16';

/** Every kind of message a group exchanges; the names appear in errors and in stats(). */
export type CollectiveKind =
  | 'allReduce'
  | 'reduceScatter'
  | 'allGather'
  | 'broadcast'
  | 'barrier'
  | 'send'
  | 'recv';

export interface CollectiveOptions {
  /** Fail with a CommError naming the missing ranks after this long (default: the group's). */
  timeoutMs?: number;
}

export interface AllReduceOptions extends CollectiveOptions {
  op?: ReduceOp;
  wireDtype?: WireDtype;
}

export interface ReduceScatterOptions extends CollectiveOptions {
  op?: ReduceOp;
  wireDtype?: WireDtype;
}

export interface AllGatherOptions extends CollectiveOptions {
  wireDtype?: WireDtype;
}

/** Bytes on the wire (32-byte frame headers included) and calls, for one collective kind. */
export interface KindStats {
  calls: number;
  sentBytes: number;
  receivedBytes: number;
}

export interface CommStats {
  byKind: Record<CollectiveKind, KindStats>;
  total: { sentBytes: number; receivedBytes: number };
}

export interface ProcessGroup {
  /** This process's rank inside the group (0 … worldSize-1). */
  readonly rank: number;
  readonly worldSize: number;
  /** The world ranks of the members, in group-rank order. */
  readonly ranks: readonly number[];
  /** Stable id shared by every member; 0 is the world group. */
  readonly groupId: number;

  /** In place: every rank ends with the same bytes. */
  allReduce(buf: Float32Array, opts?: AllReduceOptions): Promise<void>;
  /** input: [worldSize * m], output: [m] = reduction of every rank's input[rank*m .. (rank+1)*m). */
  reduceScatter(input: Float32Array, output: Float32Array, opts?: ReduceScatterOptions): Promise<void>;
  /** input: [m], output: [worldSize * m]; rank i's input lands in output[i*m .. (i+1)*m). */
  allGather(input: Float32Array, output: Float32Array, opts?: AllGatherOptions): Promise<void>;
  /** In place: every rank ends with root's buffer. */
  broadcast(buf: Float32Array, root: number, opts?: CollectiveOptions): Promise<void>;
  barrier(opts?: CollectiveOptions): Promise<void>;
  /** Resolves once the data is handed to the kernel (buffered send, like MPI_Bsend). */
  send(buf: Float32Array, dst: number, opts?: CollectiveOptions): Promise<void>;
  /** Fills buf with the next message from src; its length must equal the sent length. */
  recv(buf: Float32Array, src: number, opts?: CollectiveOptions): Promise<void>;

  /** A subgroup over these world ranks (this rank must be one of them), sharing connections. */
  newGroup(ranks: readonly number[]): ProcessGroup;
  stats(): CommStats;
  /** On the world group: closes sockets, listener and store. On a subgroup: retires it. */
  destroy(): Promise<void>;
}

export interface InitOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Rendezvous timeout and the default collective timeout (config "comm_timeout_s" × 1000). */
  timeoutMs?: number;
  /** Bytes of payload per frame; big buffers stream in chunks of this size (default 1 MiB). */
  chunkBytes?: number;
}
