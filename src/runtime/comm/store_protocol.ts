/**
 * The rendezvous store's wire format: each message is a u32 little-endian length followed
 * by that many bytes of UTF-8 JSON. Requests carry an id that the response echoes, so a
 * client may have several requests (a blocking get and a set) in flight at once.
 */
import type net from 'node:net';

export type StoreRequest =
  | { id: number; op: 'set'; key: string; value: string }
  | { id: number; op: 'get'; key: string; timeoutMs: number }
  | { id: number; op: 'add'; key: string; delta: number }
  | { id: number; op: 'wait'; keys: string[]; timeoutMs: number }
  | { id: number; op: 'check'; keys: string[] };

export type StoreResponse =
  | { id: number; ok: true; value?: string; present?: boolean }
  | { id: number; ok: false; error: string; missing?: string[] };

export function writeMessage(sock: net.Socket, msg: unknown): void {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(body.length, 0);
  sock.write(Buffer.concat([head, body]));
}

/** Calls onMessage for every complete message read from sock. */
export function readMessages(sock: net.Socket, onMessage: (msg: unknown) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const len = pending.readUInt32LE(0);
      if (pending.length < 4 + len) break;
      const body = pending.subarray(4, 4 + len).toString('utf8');
      pending = pending.subarray(4 + len);
      onMessage(JSON.parse(body));
    }
  });
}
