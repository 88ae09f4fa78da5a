/**
 * initProcessGroup: the rendezvous. Rank 0 serves the store; every rank listens on an
 * ephemeral port, publishes host:port under `addr/<rank>`, waits for every other rank's
 * address (naming the missing ranks on timeout), then dials every peer (each rank reads on the
 * sockets it dialed) and waits until its ring successor has dialed it, so the first collective
 * does not pay for the connection.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { CommError } from '../../errors.ts';
import { StoreClient, StoreTimeoutError } from './store.ts';
import { StoreServer, bindHost } from './store_server.ts';
import { Transport, type PeerAddress } from './transport.ts';
import type { InitOptions, ProcessGroup } from './types.ts';
import { WorldShared } from './world.ts';

export const DEFAULT_TIMEOUT_MS = 300_000;
export const DEFAULT_CHUNK_BYTES = 1 << 20;

export async function initProcessGroup(opts: InitOptions): Promise<ProcessGroup> {
  const { rank, worldSize, masterAddr, masterPort } = opts;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new CommError(`initProcessGroup: worldSize ${worldSize} must be an integer ≥ 1`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new CommError(`initProcessGroup: rank ${rank} is out of range for worldSize ${worldSize}`);
  if (!Number.isInteger(masterPort) || masterPort < 1 || masterPort > 65535) throw new CommError(`initProcessGroup: masterPort ${masterPort} is not a TCP port (1-65535)`);
  if (!Number.isInteger(chunkBytes) || chunkBytes < 64 || chunkBytes % 4 !== 0) throw new CommError(`initProcessGroup: chunkBytes ${chunkBytes} must be a multiple of 4, at least 64`);

  const storeServer = rank === 0 ? await StoreServer.start(masterAddr, masterPort) : null;
  let store: StoreClient;
  try {
    store = await StoreClient.connect(masterAddr, masterPort, timeoutMs);
  } catch (err) {
    await storeServer?.close();
    throw err;
  }
  const listenHost = bindHost(masterAddr);
  let transport: Transport | null = null;
  try {
    const session = await agree(store, rank, worldSize, timeoutMs);
    transport = await Transport.listen(rank, session, listenHost);
    const port = transport.port;
    // Publish the interface that reaches rank 0: the one the other hosts can reach us on.
    const host = listenHost === '0.0.0.0' ? store.localAddress.replace(/^::ffff:/, '') : listenHost;
    await store.set(`addr/${rank}`, JSON.stringify({ host, port, pid: process.pid, hostname: os.hostname() }));
    const keys = Array.from({ length: worldSize }, (_, i) => `addr/${i}`);
    try {
      await store.wait(keys, timeoutMs);
    } catch (err) {
      if (!(err instanceof StoreTimeoutError)) throw err;
      const missing = err.missing.map((k) => k.slice('addr/'.length));
      throw new CommError(`rendezvous at ${masterAddr}:${masterPort} timed out after ${timeoutMs} ms: rank${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${worldSize} never arrived`);
    }
    const peers: PeerAddress[] = [];
    for (const k of keys) peers.push(JSON.parse(await store.get(k, timeoutMs)) as PeerAddress);
    transport.setPeers(peers);
    const world = new WorldShared(transport, rank, worldSize, timeoutMs, chunkBytes, store, storeServer);
    if (worldSize > 1) await successorReady(transport, (rank + 1) % worldSize, timeoutMs);
    return world.worldGroup();
  } catch (err) {
    await transport?.close();
    store.close();
    await storeServer?.close();
    throw err;
  }
}

async function successorReady(transport: Transport, next: number, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommError(`rendezvous: rank ${next} did not connect to rank ${transport.rank} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([transport.writerTo(next), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Claims the rank, checks every rank agrees on the world size, and returns the job's session id. */
async function agree(store: StoreClient, rank: number, worldSize: number, timeoutMs: number): Promise<string> {
  if (rank === 0) {
    await store.set('world_size', String(worldSize));
    await store.set('session', randomBytes(8).toString('hex'));
  }
  const claims = await store.add(`claim/${rank}`, 1);
  if (claims > 1) throw new CommError(`rank ${rank} was claimed by two processes; every process needs its own RANK`);
  const theirs = Number(await waitKey(store, 'world_size', timeoutMs));
  if (theirs !== worldSize) throw new CommError(`world size mismatch: rank ${rank} has WORLD_SIZE=${worldSize}, rank 0 has ${theirs}`);
  return waitKey(store, 'session', timeoutMs);
}

async function waitKey(store: StoreClient, key: string, timeoutMs: number): Promise<string> {
  try {
    return await store.get(key, timeoutMs);
  } catch (err) {
    if (err instanceof StoreTimeoutError) throw new CommError(`rendezvous: rank 0 never published ${JSON.stringify(key)} within ${timeoutMs} ms`);
    throw err;
  }
}
