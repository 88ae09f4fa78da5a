/** Is the rendezvous port free? Checked before spawning so the user hears why, not a rank's stack. */
import { createServer } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { LaunchError } from '../../errors.ts';

/** True when `addr` names this machine (loopback, its hostname, or one of its interface addresses). */
export function isLocalAddress(addr: string): boolean {
  if (addr === 'localhost' || addr === '::1' || addr === '0.0.0.0' || addr.startsWith('127.')) return true;
  if (addr === hostname()) return true;
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === addr));
}

/** Throws a LaunchError when `port` on `addr` cannot be bound; other bind errors are left to the ranks. */
export function checkPortFree(addr: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new LaunchError(`MASTER_PORT ${port} on ${addr} is already in use (another job?); choose a free one with --master_port`));
      } else if (err.code === 'EACCES') {
        reject(new LaunchError(`MASTER_PORT ${port} on ${addr} needs privileges to bind; choose one above 1023 with --master_port`));
      } else {
        resolve();
      }
    });
    server.listen({ port, host: addr, exclusive: true }, () => server.close(() => resolve()));
  });
}
