/**
 * A process group over TCP: validates arguments, runs one collective at a time in call order
 * (each with a sequence number and a timer), turns failures into CommErrors that name the
 * collective, the group and the ranks at fault, and tells the other members when it fails.
 * The algorithms themselves live in algorithms/, one file each.
 */
import { CommError } from '../../errors.ts';
import { allGather } from './algorithms/all_gather.ts';
import { allReduce } from './algorithms/all_reduce.ts';
import { barrier } from './algorithms/barrier.ts';
import { broadcast } from './algorithms/broadcast.ts';
import { recvFrom, sendTo } from './algorithms/p2p.ts';
import { reduceScatter } from './algorithms/reduce_scatter.ts';
import { Channel, Ctx, OP_CODE, TimeoutSignal, describeCall, type CtxSpec, type GroupView } from './context.ts';
import { explainTimeout, type GroupStatus } from './control.ts';
import { KIND_CODE } from './frame.ts';
import { newStats, snapshot } from './stats.ts';
import type { WorldShared } from './world.ts';
import { WIRE_DTYPE_CODE } from './wire.ts';
import type {
  AllGatherOptions, AllReduceOptions, CollectiveKind, CollectiveOptions, CommStats, KindStats, ProcessGroup,
  ReduceOp, ReduceScatterOptions, WireDtype,
} from './types.ts';

const OPS: readonly ReduceOp[] = ['sum', 'avg', 'max', 'min'];
const DTYPES: readonly WireDtype[] = ['float32', 'fp16', 'bf16'];

/** A failure another member reported; not re-broadcast. */
class PeerAbortError extends CommError {}

export class TcpGroup implements ProcessGroup, GroupView {
  readonly rank: number;
  readonly worldSize: number;
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private active: Ctx | null = null;
  private readonly p2pActive = new Set<Ctx>();
  private readonly p2pSeq = new Map<string, number>();
  private readonly p2pQueue = new Map<string, Promise<unknown>>();
  private broken: CommError | null = null;
  private destroyed = false;
  private readonly statsByKind = newStats();

  constructor(readonly world: WorldShared, readonly groupId: number, readonly ranks: readonly number[]) {
    this.rank = ranks.indexOf(world.worldRank);
    this.worldSize = ranks.length;
  }

  get transport(): WorldShared['transport'] { return this.world.transport; }
  get chunkBytes(): number { return this.world.chunkBytes; }
  kindStats(kind: CollectiveKind): KindStats { return this.statsByKind[kind]; }
  stats(): CommStats { return snapshot(this.statsByKind); }
  private get name(): string { return `group ${this.groupId} (ranks ${this.ranks.join(',')})`; }

  async allReduce(buf: Float32Array, opts: AllReduceOptions = {}): Promise<void> {
    const op = this.checkOp('allReduce', opts.op);
    const dtype = this.checkDtype('allReduce', opts.wireDtype);
    this.checkBuffer('allReduce', 'buf', buf);
    return this.collective('allReduce', buf.length, OP_CODE[op], dtype, opts, (ctx) => allReduce(ctx, buf, op, dtype));
  }

  async reduceScatter(input: Float32Array, output: Float32Array, opts: ReduceScatterOptions = {}): Promise<void> {
    const op = this.checkOp('reduceScatter', opts.op);
    const dtype = this.checkDtype('reduceScatter', opts.wireDtype);
    this.checkBuffer('reduceScatter', 'input', input);
    this.checkBuffer('reduceScatter', 'output', output);
    if (input.length !== this.worldSize * output.length) {
      throw new CommError(`reduceScatter on ${this.name}: input has ${input.length} elements, expected worldSize ${this.worldSize} × output ${output.length} = ${this.worldSize * output.length}`);
    }
    return this.collective('reduceScatter', input.length, OP_CODE[op], dtype, opts, (ctx) => reduceScatter(ctx, input, output, op, dtype));
  }

  async allGather(input: Float32Array, output: Float32Array, opts: AllGatherOptions = {}): Promise<void> {
    const dtype = this.checkDtype('allGather', opts.wireDtype);
    this.checkBuffer('allGather', 'input', input);
    this.checkBuffer('allGather', 'output', output);
    if (output.length !== this.worldSize * input.length) {
      throw new CommError(`allGather on ${this.name}: output has ${output.length} elements, expected worldSize ${this.worldSize} × input ${input.length} = ${this.worldSize * input.length}`);
    }
    return this.collective('allGather', output.length, 0, dtype, opts, (ctx) => allGather(ctx, input, output, dtype));
  }

  async broadcast(buf: Float32Array, root: number, opts: CollectiveOptions = {}): Promise<void> {
    this.checkBuffer('broadcast', 'buf', buf);
    this.checkPeer('broadcast', 'root', root, true);
    return this.collective('broadcast', buf.length, root, 'float32', opts, (ctx) => broadcast(ctx, buf, root));
  }

  async barrier(opts: CollectiveOptions = {}): Promise<void> {
    return this.collective('barrier', 0, 0, 'float32', opts, (ctx) => barrier(ctx));
  }

  async send(buf: Float32Array, dst: number, opts: CollectiveOptions = {}): Promise<void> {
    this.checkBuffer('send', 'buf', buf);
    this.checkPeer('send', 'dst', dst, false);
    return this.p2p('send', dst, buf.length, opts, async (ctx) => sendTo(ctx, buf, dst));
  }

  async recv(buf: Float32Array, src: number, opts: CollectiveOptions = {}): Promise<void> {
    this.checkBuffer('recv', 'buf', buf);
    this.checkPeer('recv', 'src', src, false);
    return this.p2p('recv', src, buf.length, opts, (ctx) => recvFrom(ctx, buf, src));
  }

  newGroup(ranks: readonly number[]): ProcessGroup {
    return this.world.newGroup(ranks);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.groupId === 0) await this.world.close();
    else this.world.groups.delete(this.groupId);
  }

  /** Answers another rank's probe. */
  status(): GroupStatus {
    const a = this.active;
    return { known: true, entered: this.seq, active: a ? this.describe(a.spec) : null };
  }

  /** Another member failed: fail what runs now, and everything after. */
  onPeerAbort(src: number, message: string): void {
    const what = this.active ? `${this.describe(this.active.spec)} on ${this.name}` : this.name;
    const err = new PeerAbortError(`${what}: aborted because rank ${src} failed: ${message}`);
    this.broken ??= err;
    this.active?.abort(err);
    for (const c of this.p2pActive) c.abort(err);
  }

  private collective(kind: CollectiveKind, count: number, arg: number, dtype: WireDtype, opts: CollectiveOptions, body: (ctx: Ctx) => Promise<void>): Promise<void> {
    const run = this.queue.then(() => {
      const spec: CtxSpec = { kind, seq: ++this.seq, count, arg, dtype, channel: Channel.COLL };
      return this.execute(spec, opts, body);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Point-to-point runs outside collective order; messages to (or from) one peer keep their order. */
  private p2p(kind: 'send' | 'recv', peer: number, count: number, opts: CollectiveOptions, body: (ctx: Ctx) => Promise<void>): Promise<void> {
    const key = `${kind}/${peer}`;
    const run = (this.p2pQueue.get(key) ?? Promise.resolve()).then(() => {
      const seq = (this.p2pSeq.get(key) ?? 0) + 1;
      this.p2pSeq.set(key, seq);
      return this.execute({ kind, seq, count, arg: 0, dtype: 'float32', channel: Channel.P2P }, opts, body);
    });
    this.p2pQueue.set(key, run.catch(() => {}));
    return run;
  }

  private async execute(spec: CtxSpec, opts: CollectiveOptions, body: (ctx: Ctx) => Promise<void>): Promise<void> {
    const what = `${this.describe(spec)} on ${this.name}`;
    if (this.destroyed) throw new CommError(`${what}: the group was destroyed`);
    if (this.broken) throw new CommError(`${what}: the group is unusable after an earlier failure: ${this.broken.message}`);
    const timeoutMs = opts.timeoutMs ?? this.world.timeoutMs;
    const ctx = new Ctx(this, spec);
    const p2p = spec.channel === Channel.P2P;
    if (p2p) this.p2pActive.add(ctx);
    else this.active = ctx;
    const timer = setTimeout(() => ctx.abort(new TimeoutSignal()), timeoutMs);
    try {
      await body(ctx);
      await ctx.flush();
      // Only now: after a failure a write may still hold a payload, so those are left to the GC.
      ctx.recycleHeld();
      ctx.stats.calls++;
    } catch (e) {
      throw await this.fail(ctx, what, timeoutMs, e);
    } finally {
      clearTimeout(timer);
      ctx.unpostAll();
      if (p2p) this.p2pActive.delete(ctx);
      else this.active = null;
    }
  }

  private async fail(ctx: Ctx, what: string, timeoutMs: number, e: unknown): Promise<Error> {
    let err: CommError;
    if (e instanceof PeerAbortError) {
      err = e;
    } else if (e instanceof TimeoutSignal) {
      err = new CommError(await this.explainTimeout(ctx, what, timeoutMs));
    } else if (e instanceof CommError) {
      err = new CommError(`${what} failed: ${e.message}`, { cause: e });
    } else {
      return e instanceof Error ? e : new Error(String(e));
    }
    this.broken ??= err;
    if (!(e instanceof PeerAbortError)) this.world.control.abort(this.groupId, this.peers(), err.message);
    return err;
  }

  private async explainTimeout(ctx: Ctx, what: string, timeoutMs: number): Promise<string> {
    if (ctx.spec.channel === Channel.P2P) {
      const peerWhat = ctx.spec.kind === 'recv' ? 'did not send it' : 'did not read it';
      return `${what} timed out after ${timeoutMs} ms: the peer ${peerWhat}`;
    }
    const grace = Math.min(2000, Math.max(100, timeoutMs / 2));
    const answers = await this.world.control.probe(this.groupId, this.peers(), grace);
    return explainTimeout(what, timeoutMs, ctx.spec.seq, this.describe(ctx.spec), this.peers(), answers);
  }

  private peers(): number[] {
    return this.ranks.filter((r) => r !== this.world.worldRank);
  }

  private describe(s: CtxSpec): string {
    return describeCall(KIND_CODE[s.kind], s.seq, s.count, s.arg, WIRE_DTYPE_CODE[s.dtype]);
  }

  private checkOp(fn: string, op: ReduceOp | undefined): ReduceOp {
    if (op === undefined) return 'sum';
    if (!OPS.includes(op)) throw new CommError(`${fn}: op ${JSON.stringify(op)} is not one of ${OPS.join(', ')}`);
    return op;
  }

  private checkDtype(fn: string, d: WireDtype | undefined): WireDtype {
    if (d === undefined) return 'float32';
    if (!DTYPES.includes(d)) throw new CommError(`${fn}: wireDtype ${JSON.stringify(d)} is not one of ${DTYPES.join(', ')}`);
    return d;
  }

  private checkBuffer(fn: string, name: string, buf: unknown): void {
    if (!(buf instanceof Float32Array)) throw new CommError(`${fn}: ${name} must be a Float32Array, got ${Object.prototype.toString.call(buf)}`);
    if (buf.length > 0xffffffff) throw new CommError(`${fn}: ${name} has ${buf.length} elements, more than a collective can carry (2^32-1)`);
  }

  private checkPeer(fn: string, name: string, peer: number, selfOk: boolean): void {
    if (!Number.isInteger(peer) || peer < 0 || peer >= this.worldSize) {
      throw new CommError(`${fn}: ${name} ${peer} is not a rank of ${this.name} (0..${this.worldSize - 1})`);
    }
    if (!selfOk && peer === this.rank) throw new CommError(`${fn}: ${name} ${peer} is this rank itself`);
  }
}
