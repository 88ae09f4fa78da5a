/**
 * The sockets between ranks. Each ordered pair (a → b) uses its own connection, dialed by a
 * on first use: a's frames to b keep their order, and two ranks dialing each other at once
 * never race. Inbound frames go to a Mailbox per (group, channel, source rank).
 */
import net from 'node:net';
import { CommError, assert } from '../../errors.ts';
import { Channel, FrameParser, FrameType, encodeHeader, type Frame, type Header } from './frame.ts';
import { Mailbox } from './mailbox.ts';
import { concatPayload, type Payload } from './payload.ts';

export interface PeerAddress {
  host: string;
  port: number;
}

export class Transport {
  private readonly out = new Map<number, net.Socket>();
  private readonly dialing = new Map<number, Promise<net.Socket>>();
  private readonly inbound = new Set<net.Socket>();
  private readonly boxes = new Map<string, Mailbox>();
  /** Peers whose inbound stream ended: their mailboxes drain, then fail. */
  private readonly lost = new Map<number, CommError>();
  /** Peers our outgoing connection to failed: sends to them fail. */
  private readonly lostOut = new Map<number, CommError>();
  private closing = false;
  /** CONTROL frames (probe, status, abort), JSON. */
  onControl: (src: number, msg: unknown) => void = () => {};

  private peers: readonly PeerAddress[] = [];

  private constructor(readonly rank: number, private readonly session: string, private readonly server: net.Server, readonly port: number) {
    server.on('connection', (sock) => this.accept(sock));
  }

  /** Listens on an ephemeral port of host, accepting peers at once (they may dial before we know them). */
  static async listen(rank: number, session: string, host: string): Promise<Transport> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new CommError(`cannot listen for peers on ${host}: ${err.message}`)));
      server.listen({ host, port: 0 }, () => resolve());
    });
    const addr = server.address();
    assert(typeof addr === 'object' && addr !== null, 'server.address() after listen');
    return new Transport(rank, session, server, addr.port);
  }

  /** Every rank's listening address, indexed by world rank; needed before the first send. */
  setPeers(peers: readonly PeerAddress[]): void {
    this.peers = peers;
  }

  mailbox(groupId: number, channel: number, src: number): Mailbox {
    const key = `${groupId}/${channel}/${src}`;
    let box = this.boxes.get(key);
    if (!box) {
      box = new Mailbox();
      const err = this.lost.get(src);
      if (err) box.close(err);
      this.boxes.set(key, box);
    }
    return box;
  }

  /** Writes header + payload in one writev; resolves when the kernel has the bytes. */
  send(dst: number, h: Header, payload: Payload): Promise<void> {
    const sock = this.out.get(dst);
    if (!sock) return this.connect(dst).then(() => this.send(dst, h, payload));
    return new Promise((resolve, reject) => {
      const done = (err?: Error | null): void => {
        if (err) reject(this.lostOut.get(dst) ?? new CommError(`rank ${dst}: write failed: ${err.message}`));
        else resolve();
      };
      sock.cork();
      if (payload.length === 0) {
        sock.write(encodeHeader(h), done);
      } else {
        sock.write(encodeHeader(h));
        const last = payload.length - 1;
        for (let i = 0; i < last; i++) sock.write(payload[i]!);
        sock.write(payload[last]!, done);
      }
      sock.uncork();
    });
  }

  sendControl(dst: number, msg: unknown): Promise<void> {
    const payload = Buffer.from(JSON.stringify(msg), 'utf8');
    const h: Header = { type: FrameType.CONTROL, kind: 0, groupId: 0, seq: 0, count: 0, offset: 0, arg: 0, dtype: 0, channel: Channel.COLL, bytes: payload.length };
    return this.send(dst, h, [payload]);
  }

  connect(dst: number): Promise<net.Socket> {
    assert(dst !== this.rank, `rank ${dst} dialing itself`);
    const lost = this.lostOut.get(dst);
    if (lost) return Promise.reject(lost);
    let p = this.dialing.get(dst);
    if (p) return p;
    const addr = this.peers[dst];
    assert(addr, `no address for rank ${dst}`);
    p = new Promise<net.Socket>((resolve, reject) => {
      const sock = net.connect({ host: addr.host, port: addr.port });
      sock.once('error', (err) =>
        reject(new CommError(`cannot connect to rank ${dst} at ${addr.host}:${addr.port}: ${err.message}`)),
      );
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        sock.setNoDelay(true);
        const hello = Buffer.from(JSON.stringify({ session: this.session, rank: this.rank }), 'utf8');
        sock.write(encodeHeader({ type: FrameType.HELLO, kind: 0, groupId: 0, seq: 0, count: 0, offset: 0, arg: 0, dtype: 0, channel: 0, bytes: hello.length }));
        sock.write(hello);
        sock.on('error', (err) => this.outLost(dst, `connection to rank ${dst} failed: ${err.message}`));
        sock.on('close', () => this.outLost(dst, `connection to rank ${dst} closed`));
        // The peer never writes on this socket; data here would be a protocol error.
        sock.on('data', () => sock.destroy());
        this.out.set(dst, sock);
        resolve(sock);
      });
    });
    this.dialing.set(dst, p);
    return p;
  }

  private accept(sock: net.Socket): void {
    this.inbound.add(sock);
    sock.setNoDelay(true);
    let src = -1;
    const parser = new FrameParser((f: Frame) => {
      if (src < 0) {
        const hello = parseHello(f, this.session);
        if (hello === null) {
          sock.destroy();
          return;
        }
        src = hello;
        return;
      }
      if (f.h.type === FrameType.DATA) this.mailbox(f.h.groupId, f.h.channel, src).push(f);
      else if (f.h.type === FrameType.CONTROL) this.onControl(src, JSON.parse(concatPayload(f.payload).toString('utf8')));
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.inbound.delete(sock);
      if (src >= 0) this.peerLost(src, `rank ${src} closed its connection`);
    });
  }

  private outLost(rank: number, message: string): void {
    if (this.closing || this.lostOut.has(rank)) return;
    this.lostOut.set(rank, new CommError(message));
  }

  /** Called when the inbound stream closes: every frame it carried has been parsed by then. */
  private peerLost(rank: number, message: string): void {
    if (this.closing || this.lost.has(rank)) return;
    const err = new CommError(message);
    this.lost.set(rank, err);
    for (const [key, box] of this.boxes) if (key.endsWith(`/${rank}`)) box.close(err);
  }

  async close(): Promise<void> {
    this.closing = true;
    // end() flushes what we wrote; the peer sees EOF after the last frame.
    for (const s of this.out.values()) s.end();
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function parseHello(f: Frame, session: string): number | null {
  if (f.h.type !== FrameType.HELLO) return null;
  try {
    const msg = JSON.parse(concatPayload(f.payload).toString('utf8')) as { session?: string; rank?: number };
    return msg.session === session && typeof msg.rank === 'number' ? msg.rank : null;
  } catch {
    return null;
  }
}
