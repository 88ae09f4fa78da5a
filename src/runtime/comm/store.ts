/**
 * The rendezvous store client every rank (rank 0 included) uses. connect() retries until the
 * timeout, because ranks start in any order and rank 0 may not be listening yet.
 */
import net from 'node:net';
import { CommError } from '../../errors.ts';
import { readMessages, writeMessage, type StoreRequest, type StoreResponse } from './store_protocol.ts';

type Pending = { resolve: (r: StoreResponse) => void; reject: (e: Error) => void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class StoreClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | null = null;

  private constructor(private readonly sock: net.Socket, readonly where: string) {
    readMessages(sock, (msg) => {
      const res = msg as StoreResponse;
      const p = this.pending.get(res.id);
      this.pending.delete(res.id);
      p?.resolve(res);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closedError = new CommError(`the rendezvous store at ${where} closed the connection (did rank 0 exit?)`);
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
    });
  }

  /** The local address of the connection: the interface that reaches rank 0, so peers can reach it too. */
  get localAddress(): string {
    return this.sock.localAddress ?? '127.0.0.1';
  }

  static async connect(host: string, port: number, timeoutMs: number): Promise<StoreClient> {
    const where = `${host}:${port}`;
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      try {
        const sock = await dial(host, port, Math.max(1, deadline - Date.now()));
        sock.setNoDelay(true);
        return new StoreClient(sock, where);
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (Date.now() >= deadline) {
        throw new CommError(`could not reach the rendezvous store at ${where} (rank 0) within ${timeoutMs} ms: ${lastError}; is rank 0 running and MASTER_ADDR/MASTER_PORT the same on every rank?`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private request(req: DistributiveOmit<StoreRequest, 'id'>): Promise<StoreResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      writeMessage(this.sock, { ...req, id });
    });
  }

  async set(key: string, value: string): Promise<void> {
    await this.request({ op: 'set', key, value });
  }

  /** Waits until key is set, then returns its value. */
  async get(key: string, timeoutMs: number): Promise<string> {
    const res = await this.request({ op: 'get', key, timeoutMs });
    if (!res.ok) throw new StoreTimeoutError(`store get(${JSON.stringify(key)}) at ${this.where}: ${res.error}`, res.missing ?? [key]);
    return res.value ?? '';
  }

  /** Atomically adds delta to the integer at key (missing = 0) and returns the new value. */
  async add(key: string, delta: number): Promise<number> {
    const res = await this.request({ op: 'add', key, delta });
    return Number(res.ok ? res.value : NaN);
  }

  /** Waits until every key is set; on timeout a StoreTimeoutError lists the missing keys. */
  async wait(keys: string[], timeoutMs: number): Promise<void> {
    const res = await this.request({ op: 'wait', keys, timeoutMs });
    if (!res.ok) throw new StoreTimeoutError(`store wait at ${this.where}: ${res.error}`, res.missing ?? keys);
  }

  async check(keys: string[]): Promise<boolean> {
    const res = await this.request({ op: 'check', keys });
    return res.ok && res.present === true;
  }

  close(): void {
    this.sock.end();
  }
}

export class StoreTimeoutError extends CommError {
  constructor(message: string, readonly missing: string[]) {
    super(message);
  }
}

function dial(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect timed out`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    });
  });
}
