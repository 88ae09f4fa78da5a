/**
 * The rendezvous store rank 0 serves on MASTER_ADDR:MASTER_PORT: a string key-value map with
 * blocking get/wait and an atomic add, in the manner of torch's TCPStore.
 */
import net from 'node:net';
import { CommError } from '../../errors.ts';
import { readMessages, writeMessage, type StoreRequest, type StoreResponse } from './store_protocol.ts';

interface Waiter {
  keys: string[];
  respond: () => void;
  timer: NodeJS.Timeout;
}

export class StoreServer {
  private readonly data = new Map<string, string>();
  private waiters: Waiter[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly port: number) {}

  /** Listens on host:port; a port in use is a CommError that suggests --master_port. */
  static async start(host: string, port: number): Promise<StoreServer> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(new CommError(`cannot start the rendezvous store: ${host}:${port} is already in use (another job, or a rank left over from one?); pick a free port with --master_port`));
        } else {
          reject(new CommError(`cannot start the rendezvous store on ${host}:${port}: ${err.message}`, { cause: err }));
        }
      });
      server.listen({ host: bindHost(host), port, exclusive: true }, () => resolve());
    });
    const addr = server.address();
    const store = new StoreServer(server, typeof addr === 'object' && addr ? addr.port : port);
    server.on('connection', (sock) => store.accept(sock));
    return store;
  }

  private accept(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.sockets.delete(sock));
    readMessages(sock, (msg) => this.handle(sock, msg as StoreRequest));
  }

  private handle(sock: net.Socket, req: StoreRequest): void {
    const reply = (res: StoreResponse): void => {
      if (!sock.destroyed) writeMessage(sock, res);
    };
    switch (req.op) {
      case 'set':
        this.data.set(req.key, req.value);
        this.wake();
        return reply({ id: req.id, ok: true });
      case 'add': {
        const next = Number(this.data.get(req.key) ?? '0') + req.delta;
        this.data.set(req.key, String(next));
        this.wake();
        return reply({ id: req.id, ok: true, value: String(next) });
      }
      case 'check':
        return reply({ id: req.id, ok: true, present: req.keys.every((k) => this.data.has(k)) });
      case 'get':
      case 'wait': {
        const keys = req.op === 'get' ? [req.key] : req.keys;
        const respond = (): void =>
          reply(req.op === 'get' ? { id: req.id, ok: true, value: this.data.get(req.key) ?? '' } : { id: req.id, ok: true });
        if (keys.every((k) => this.data.has(k))) return respond();
        const waiter: Waiter = {
          keys,
          respond,
          timer: setTimeout(() => {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            const missing = keys.filter((k) => !this.data.has(k));
            reply({ id: req.id, ok: false, error: `timed out after ${req.timeoutMs} ms`, missing });
          }, req.timeoutMs),
        };
        this.waiters.push(waiter);
        return;
      }
    }
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => w.keys.every((k) => this.data.has(k)));
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) {
      clearTimeout(w.timer);
      w.respond();
    }
  }

  async close(): Promise<void> {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters = [];
    // end(), not destroy(): a reply already written still reaches the client.
    for (const s of this.sockets) s.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Loopback stays loopback (no exposure on shared machines); any other address binds all interfaces. */
export function bindHost(host: string): string {
  return LOOPBACK.has(host) || host.startsWith('127.') ? host : '0.0.0.0';
}
