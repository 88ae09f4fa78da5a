/**
 * The sockets between ranks. Each ordered pair (a → b) uses its own connection, dialed by the
 * receiver b as soon as it knows the addresses: a socket we dial can read through `onread` into
 * memory we reuse (FrameReader), which an accepted socket cannot. The dialer sends one HELLO and
 * from then on only reads; the acceptor only writes. a's frames to b keep their order, and two
 * ranks dialing each other at once never race. Inbound frames go to a Mailbox per
 * (group, channel, source rank).
 */
import net from 'node:net';
import { CommError, assert } from '../../errors.ts';
import { Channel, FrameParser, FrameType, encodeHeader, type Frame, type Header } from './frame.ts';
import { FrameReader } from './frame_reader.ts';
import { Mailbox } from './mailbox.ts';
import { concatPayload, type Payload } from './payload.ts';

export interface PeerAddress {
  host: string;
  port: number;
}

/** A promise for the socket a peer dials us on, to write to it. */
interface Pending {
  promise: Promise<net.Socket>;
  resolve: (s: net.Socket) => void;
  reject: (e: Error) => void;
}

export class Transport {
  /** Accepted sockets, by the rank that dialed them: we write that rank's frames here. */
  private readonly out = new Map<number, net.Socket>();
  private readonly outPending = new Map<number, Pending>();
  /** Sockets we dialed, by the rank we read from. */
  private readonly inbound = new Map<number, net.Socket>();
  /** Accepted sockets whose HELLO has not come yet. */
  private readonly unknown = new Set<net.Socket>();
  private readonly boxes = new Map<string, Mailbox>();
  /** Peers whose stream to us ended (or never connected): their mailboxes drain, then fail. */
  private readonly lost = new Map<number, CommError>();
  /** Peers whose stream from us failed: sends to them fail. */
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

  /** Every rank's listening address, indexed by world rank. Dials every peer, to read from it. */
  setPeers(peers: readonly PeerAddress[]): void {
    this.peers = peers;
    for (let src = 0; src < peers.length; src++) if (src !== this.rank) this.dial(src);
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
    if (!sock) return this.writerTo(dst).then(() => this.send(dst, h, payload));
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

  /** The socket to write dst's frames on, once dst has dialed us. */
  writerTo(dst: number): Promise<net.Socket> {
    assert(dst !== this.rank, `rank ${dst} sending to itself`);
    const sock = this.out.get(dst);
    if (sock) return Promise.resolve(sock);
    const lost = this.lostOut.get(dst);
    if (lost) return Promise.reject(lost);
    let p = this.outPending.get(dst);
    if (!p) {
      let resolve!: (s: net.Socket) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<net.Socket>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {});
      p = { promise, resolve, reject };
      this.outPending.set(dst, p);
    }
    return p.promise;
  }

  /** Dials src to read its frames; a failure fails what we wait to receive from src. */
  private dial(src: number): void {
    const addr = this.peers[src];
    assert(addr, `no address for rank ${src}`);
    let connected = false;
    const reader = new FrameReader(
      (f) => this.deliver(src, f),
      (h) => (h.type === FrameType.DATA ? this.mailbox(h.groupId, h.channel, src).claim(h) : null),
      (err) => {
        // the reason, not just "closed its connection", reaches whoever waits on src
        this.peerLost(src, `bad stream from rank ${src}: ${err.message}`);
        sock.destroy();
      },
    );
    const sock = net.connect({ host: addr.host, port: addr.port, onread: reader.onread });
    this.inbound.set(src, sock);
    sock.once('connect', () => {
      connected = true;
      sock.setNoDelay(true);
      const hello = Buffer.from(JSON.stringify({ session: this.session, rank: this.rank }), 'utf8');
      sock.write(encodeHeader({ type: FrameType.HELLO, kind: 0, groupId: 0, seq: 0, count: 0, offset: 0, arg: 0, dtype: 0, channel: 0, bytes: hello.length }));
      sock.write(hello);
    });
    sock.on('error', (err) => {
      if (!connected) this.peerLost(src, `cannot connect to rank ${src} at ${addr.host}:${addr.port}: ${err.message}`);
    });
    sock.on('close', () => {
      this.inbound.delete(src);
      this.peerLost(src, `rank ${src} closed its connection`);
    });
  }

  private deliver(src: number, f: Frame): void {
    if (f.h.type === FrameType.DATA) this.mailbox(f.h.groupId, f.h.channel, src).push(f);
    else if (f.h.type === FrameType.CONTROL) this.onControl(src, JSON.parse(concatPayload(f.payload).toString('utf8')));
  }

  /** A peer dialing us to read our frames: after its HELLO we only write here. */
  private accept(sock: net.Socket): void {
    this.unknown.add(sock);
    sock.setNoDelay(true);
    let dst = -1;
    const parser = new FrameParser((f: Frame) => {
      const hello = dst < 0 ? parseHello(f, this.session) : null;
      // Anything after the HELLO (or a bad HELLO) is a protocol error.
      if (hello === null || this.out.has(hello)) {
        sock.destroy();
        return;
      }
      dst = hello;
      this.unknown.delete(sock);
      this.out.set(dst, sock);
      this.outPending.get(dst)?.resolve(sock);
      this.outPending.delete(dst);
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', (err) => {
      if (dst >= 0) this.outLost(dst, `connection to rank ${dst} failed: ${err.message}`);
    });
    sock.on('close', () => {
      this.unknown.delete(sock);
      if (dst >= 0) this.outLost(dst, `connection to rank ${dst} closed`);
    });
  }

  private outLost(rank: number, message: string): void {
    if (this.closing || this.lostOut.has(rank)) return;
    const err = new CommError(message);
    this.lostOut.set(rank, err);
    this.outPending.get(rank)?.reject(err);
    this.outPending.delete(rank);
  }

  /** Called when the inbound stream closes: every frame it carried has been parsed by then. */
  private peerLost(rank: number, message: string): void {
    if (this.closing || this.lost.has(rank)) return;
    const err = new CommError(message);
    this.lost.set(rank, err);
    for (const [key, box] of this.boxes) if (key.endsWith(`/${rank}`)) box.close(err);
    // A peer we lost before it dialed us never will: sends waiting for its socket fail now, not at the timeout.
    if (!this.out.has(rank)) this.outLost(rank, message);
  }

  async close(): Promise<void> {
    this.closing = true;
    // end() flushes what we wrote; the peer sees EOF after the last frame.
    for (const s of this.out.values()) s.end();
    for (const s of this.unknown) s.destroy();
    for (const s of this.inbound.values()) s.destroy();
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
