/** Byte counters per collective kind, as pg.stats() reports them. */
import type { CollectiveKind, CommStats, KindStats } from './types.ts';

const KINDS: readonly CollectiveKind[] = ['allReduce', 'reduceScatter', 'allGather', 'broadcast', 'barrier', 'send', 'recv'];

export function newStats(): Record<CollectiveKind, KindStats> {
  const out = {} as Record<CollectiveKind, KindStats>;
  for (const k of KINDS) out[k] = { calls: 0, sentBytes: 0, receivedBytes: 0 };
  return out;
}

/** A copy the caller may keep; the live counters go on counting. */
export function snapshot(live: Record<CollectiveKind, KindStats>): CommStats {
  const byKind = newStats();
  let sentBytes = 0;
  let receivedBytes = 0;
  for (const k of KINDS) {
    byKind[k] = { ...live[k] };
    sentBytes += live[k].sentBytes;
    receivedBytes += live[k].receivedBytes;
  }
  return { byKind, total: { sentBytes, receivedBytes } };
}
