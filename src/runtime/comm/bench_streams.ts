/** The raw loopback streams of `ds bench comm` (sender and receiver sides), shared by the parent and its workers. */
import net from 'node:net';

/** Sends `total` bytes on `sock`, then ends it. */
export async function sendAll(sock: net.Socket, total: number): Promise<void> {
  const block = Buffer.alloc(4 << 20, 1);
  sock.setNoDelay(true);
  for (let sent = 0; sent < total; sent += block.length) {
    if (!sock.write(block.subarray(0, Math.min(block.length, total - sent)))) await new Promise((r) => sock.once('drain', r));
  }
  await new Promise<void>((r) => sock.end(() => r()));
}

/** GB/s received on a socket we dial, reading into one reused buffer (as the transport does). */
export function receiveRate(host: string, port: number): Promise<number> {
  let got = 0;
  let t0 = 0n;
  return new Promise<number>((resolve, reject) => {
    const sock = net.connect({
      host,
      port,
      onread: {
        buffer: Buffer.allocUnsafe(1 << 20),
        callback: (n: number) => {
          if (got === 0) t0 = process.hrtime.bigint();
          got += n;
          return true;
        },
      },
    });
    sock.on('end', () => resolve(got / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9));
    sock.on('error', reject);
  });
}
