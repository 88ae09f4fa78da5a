/**
 * What every group of one process shares: the transport, the control plane, the registry of
 * groups by id (so probes and aborts find theirs), and the store kept for the job's lifetime.
 */
import { CommError } from '../../errors.ts';
import { ControlPlane, type GroupStatus } from './control.ts';
import { TcpGroup } from './group.ts';
import type { StoreClient } from './store.ts';
import type { StoreServer } from './store_server.ts';
import type { Transport } from './transport.ts';
import type { ProcessGroup } from './types.ts';

export class WorldShared {
  readonly groups = new Map<number, TcpGroup>();
  readonly control: ControlPlane;
  private readonly sameRanksCount = new Map<string, number>();
  private closed = false;

  constructor(
    readonly transport: Transport,
    readonly worldRank: number,
    readonly worldSize: number,
    readonly timeoutMs: number,
    readonly chunkBytes: number,
    private readonly store: StoreClient,
    private readonly storeServer: StoreServer | null,
  ) {
    this.control = new ControlPlane(transport, {
      statusOf: (id): GroupStatus => this.groups.get(id)?.status() ?? { known: false, entered: 0, active: null },
      onAbort: (id, src, message) => this.groups.get(id)?.onPeerAbort(src, message),
    });
  }

  worldGroup(): TcpGroup {
    const g = new TcpGroup(this, 0, Array.from({ length: this.worldSize }, (_, i) => i));
    this.groups.set(0, g);
    return g;
  }

  /**
   * Members agree on a group's id without talking: it is a hash of the member list and of how
   * many groups with that same list this rank made before (members create them in the same order).
   */
  newGroup(ranks: readonly number[]): ProcessGroup {
    const list = [...ranks];
    const bad = list.find((r) => !Number.isInteger(r) || r < 0 || r >= this.worldSize);
    if (bad !== undefined) throw new CommError(`newGroup([${list.join(',')}]): rank ${bad} is not in the world (0..${this.worldSize - 1})`);
    if (new Set(list).size !== list.length) throw new CommError(`newGroup([${list.join(',')}]): a rank is listed twice`);
    if (!list.includes(this.worldRank)) {
      throw new CommError(`newGroup([${list.join(',')}]): this rank (${this.worldRank}) is not a member; only members create a group`);
    }
    const key = list.join(',');
    const k = this.sameRanksCount.get(key) ?? 0;
    this.sameRanksCount.set(key, k + 1);
    const id = fnv1a(`${key}#${k}`) || 1;
    if (this.groups.has(id)) throw new CommError(`newGroup([${key}]): group id ${id} collides with an existing group`);
    const g = new TcpGroup(this, id, list);
    this.groups.set(id, g);
    return g;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.groups.clear();
    await this.transport.close();
    this.store.close();
    await this.storeServer?.close();
  }
}

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
