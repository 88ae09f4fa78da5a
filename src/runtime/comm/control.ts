/**
 * Control messages between ranks (JSON in CONTROL frames), used only when something went
 * wrong: a status probe to find which ranks did not arrive, and an abort that makes the other
 * members of a group fail at once instead of waiting for their own timeouts.
 */
import type { Transport } from './transport.ts';

/** What a rank says about one of its groups. */
export interface GroupStatus {
  known: boolean;
  /** Collectives entered on the group so far. */
  entered: number;
  /** The collective running now, described, or null when idle. */
  active: string | null;
}

export type ControlMessage =
  | { t: 'probe'; id: number; groupId: number }
  | { t: 'status'; id: number; groupId: number; status: GroupStatus }
  | { t: 'abort'; groupId: number; message: string };

export interface ControlTarget {
  statusOf(groupId: number): GroupStatus;
  onAbort(groupId: number, src: number, message: string): void;
}

export class ControlPlane {
  private nextId = 1;
  private readonly waiting = new Map<number, (src: number, s: GroupStatus) => void>();

  constructor(private readonly transport: Transport, private readonly target: ControlTarget) {
    transport.onControl = (src, raw) => this.handle(src, raw as ControlMessage);
  }

  private handle(src: number, msg: ControlMessage): void {
    if (msg.t === 'probe') {
      const reply: ControlMessage = { t: 'status', id: msg.id, groupId: msg.groupId, status: this.target.statusOf(msg.groupId) };
      this.transport.sendControl(src, reply).catch(() => {});
    } else if (msg.t === 'status') {
      this.waiting.get(msg.id)?.(src, msg.status);
    } else if (msg.t === 'abort') {
      this.target.onAbort(msg.groupId, src, msg.message);
    }
  }

  /** Asks each world rank in `peers` for its status of groupId; answers that come within graceMs. */
  async probe(groupId: number, peers: readonly number[], graceMs: number): Promise<Map<number, GroupStatus>> {
    const id = this.nextId++;
    const answers = new Map<number, GroupStatus>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.waiting.set(id, (src, s) => {
        answers.set(src, s);
        if (answers.size === peers.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      if (peers.length === 0) resolve();
      for (const p of peers) this.transport.sendControl(p, { t: 'probe', id, groupId }).catch(() => {});
    });
    this.waiting.delete(id);
    return answers;
  }

  /** Best effort: tells peers that this rank failed collective work on groupId. */
  abort(groupId: number, peers: readonly number[], message: string): void {
    for (const p of peers) this.transport.sendControl(p, { t: 'abort', groupId, message }).catch(() => {});
  }
}

/** The timeout message: which ranks did not arrive, which are elsewhere, who we waited on. */
export function explainTimeout(what: string, timeoutMs: number, seq: number, ours: string, peers: readonly number[], answers: Map<number, GroupStatus>): string {
  const missing: string[] = [];
  const elsewhere: string[] = [];
  for (const p of peers) {
    const s = answers.get(p);
    if (!s) missing.push(`rank ${p} (no answer to a status probe: exited, or blocked in synchronous code)`);
    else if (!s.known) missing.push(`rank ${p} (has not created this group)`);
    else if (s.entered < seq) missing.push(`rank ${p} (entered ${s.entered} collectives on this group, ${s.active ? `now in ${s.active}` : 'now idle'})`);
    else if (s.active !== null && s.active !== ours) elsewhere.push(`rank ${p} is in ${s.active}`);
  }
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`${missing.length === 1 ? 'this rank did' : 'these ranks did'} not arrive: ${missing.join('; ')}`);
  if (elsewhere.length > 0) parts.push(`mismatched collectives: ${elsewhere.join('; ')}`);
  if (parts.length === 0) parts.push('every rank arrived; the data did not (a peer is too slow, or the network stalled)');
  return `${what} timed out after ${timeoutMs} ms: ${parts.join('; ')}`;
}
