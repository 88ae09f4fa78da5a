/** Failures a user meets: a rank that never comes, mismatched calls, a peer that leaves, a busy port. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { CommError } from '../../../src/errors.ts';
import { initProcessGroup } from '../../../src/runtime/comm/index.ts';
import { destroyAll, freePort, makeWorld } from './helpers.ts';

describe('collective failures', () => {
  it('a timeout names the rank that did not arrive', async () => {
    const pgs = await makeWorld(3);
    try {
      const [e0, e1] = await Promise.all([0, 1].map((r) => pgs[r]!.allReduce(new Float32Array(100), { timeoutMs: 300 }).catch((e: unknown) => e)));
      for (const e of [e0, e1]) {
        expect(e).toBeInstanceOf(CommError);
        expect((e as Error).message).toMatch(/allReduce #1 .*group 0 .*rank 2 \(entered 0 collectives/);
      }
      // The group stays failed rather than desynchronised.
      await expect(pgs[0]!.barrier()).rejects.toThrow(/unusable after an earlier failure/);
    } finally {
      await destroyAll(pgs);
    }
  });

  it('different collectives on two ranks are reported, not left hanging', async () => {
    const pgs = await makeWorld(2);
    try {
      const results = await Promise.all([
        pgs[0]!.allReduce(new Float32Array(100)).catch((e: unknown) => e),
        pgs[1]!.allGather(new Float32Array(50), new Float32Array(100)).catch((e: unknown) => e),
      ]);
      for (const e of results) {
        expect(e).toBeInstanceOf(CommError);
        expect((e as Error).message).toMatch(/mismatched collectives: rank \d called (allReduce|allGather) #1/);
      }
    } finally {
      await destroyAll(pgs);
    }
  });

  it('different lengths of one collective are reported with both lengths', async () => {
    const pgs = await makeWorld(2);
    try {
      const [e0] = await Promise.all([
        pgs[0]!.allReduce(new Float32Array(100)).catch((e: unknown) => e),
        pgs[1]!.allReduce(new Float32Array(120)).catch((e: unknown) => e),
      ]);
      expect((e0 as Error).message).toMatch(/rank 1 called allReduce #1 \(120 elements, op sum\) while rank 0 called allReduce #1 \(100 elements, op sum\)/);
    } finally {
      await destroyAll(pgs);
    }
  });

  it('a peer that closes mid-collective is named, well before the timeout', async () => {
    const pgs = await makeWorld(2, { timeoutMs: 20_000 });
    const t0 = Date.now();
    const pending = pgs[0]!.allReduce(new Float32Array(1000)).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await pgs[1]!.destroy();
    const e = await pending;
    expect(e).toBeInstanceOf(CommError);
    expect((e as Error).message).toMatch(/allReduce #1.*rank 1 closed its connection/);
    expect(Date.now() - t0).toBeLessThan(5000);
    await pgs[0]!.destroy();
  });

  it('recv of a different length than was sent is reported', async () => {
    const pgs = await makeWorld(2);
    try {
      const [, e] = await Promise.all([
        pgs[0]!.send(new Float32Array(10), 1),
        pgs[1]!.recv(new Float32Array(8), 0).catch((err: unknown) => err),
      ]);
      expect((e as Error).message).toMatch(/rank 0 called send\/recv #1 \(10 elements\) while rank 1 called send\/recv #1 \(8 elements\)/);
    } finally {
      await destroyAll(pgs);
    }
  });

  it('bad arguments are CommErrors naming the values, and do not break the group', async () => {
    const pgs = await makeWorld(2);
    try {
      await expect(pgs[0]!.reduceScatter(new Float32Array(5), new Float32Array(2))).rejects.toThrow(/input has 5 elements, expected worldSize 2 × output 2 = 4/);
      await expect(pgs[0]!.broadcast(new Float32Array(1), 2)).rejects.toThrow(/root 2 is not a rank of group 0/);
      expect(() => pgs[0]!.newGroup([1])).toThrow(/this rank \(0\) is not a member/);
      await Promise.all(pgs.map((pg) => pg.barrier()));
    } finally {
      await destroyAll(pgs);
    }
  });
});

describe('rendezvous failures', () => {
  it('a port in use says so and suggests --master_port', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      await expect(initProcessGroup({ rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 500 })).rejects.toThrow(
        new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*--master_port`),
      );
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('a rank that never arrives is named after the timeout', async () => {
    const masterPort = await freePort();
    const init = (rank: number) => initProcessGroup({ rank, worldSize: 4, masterAddr: '127.0.0.1', masterPort, timeoutMs: 400 }).catch((e: unknown) => e);
    const errs = await Promise.all([init(0), init(1)]);
    for (const e of errs) expect((e as Error).message).toMatch(/timed out after 400 ms: ranks 2, 3 of 4 never arrived/);
  });

  it('a rank with no rank 0 to reach says where it looked', async () => {
    const masterPort = await freePort();
    await expect(initProcessGroup({ rank: 1, worldSize: 2, masterAddr: '127.0.0.1', masterPort, timeoutMs: 300 })).rejects.toThrow(
      new RegExp(`could not reach the rendezvous store at 127\\.0\\.0\\.1:${masterPort}`),
    );
  });
});
