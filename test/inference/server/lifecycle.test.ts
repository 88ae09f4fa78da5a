/** Disconnects free KV blocks, overload (429, 413), /health while loading or dead, SIGTERM-style drain. */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ApiServer } from '../../../src/inference/server/app.ts';
import { MODEL, startToyServer } from './helpers/setup.ts';

const body = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: MODEL, prompt: 'hello world', max_tokens: 100, temperature: 0, ignore_eos: true, stream: true, ...extra });

/** Opens a streaming completion on a raw socket and resolves once the first SSE bytes arrive. */
function openStream(url: string): Promise<{ destroy(): void; done: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      let first = true;
      const done = new Promise<string>((ok) => res.on('end', () => ok(text)).on('close', () => ok(text)));
      res.on('data', (b: Buffer) => {
        text += b.toString();
        if (first) {
          first = false;
          resolve({ destroy: () => req.destroy(), done });
        }
      });
    });
    req.on('error', (e) => (e.message.includes('aborted') || e.message.includes('socket hang up') ? undefined : reject(e)));
    req.end(body());
  });
}

const until = async (cond: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('server lifecycle', () => {
  it('a client that disconnects mid-stream aborts its request; its KV blocks are free within one engine step', async () => {
    const s = await startToyServer({ stepDelayMs: 5 });
    try {
      const stream = await openStream(s.url);
      await until(() => s.engine.pool.numFree < s.engine.pool.numBlocks);
      const usedWhileRunning = s.engine.pool.numBlocks - s.engine.pool.numFree;
      expect(usedWhileRunning).toBeGreaterThan(0);
      // Counted from when the server sees the disconnect and aborts (a loaded machine may run a
      // step between the client's close and the server's 'close' event).
      let stepAtAbort = -1;
      const abort = s.engine.abort.bind(s.engine);
      s.engine.abort = (id: string) => {
        stepAtAbort = s.engine.steps;
        abort(id);
      };
      stream.destroy();
      await until(() => s.engine.pool.numFree === s.engine.pool.numBlocks);
      expect(stepAtAbort).toBeGreaterThanOrEqual(0);
      expect(s.engine.steps - stepAtAbort).toBeLessThanOrEqual(1);
      expect(s.engine.stats()).toMatchObject({ numRunning: 0, numWaiting: 0, kvCacheUsage: 0 });
      await until(() => s.app.activeRequests === 0);
    } finally {
      await s.app.close();
    }
  });

  it('beyond max-num-seqs + max-waiting requests get 429 with Retry-After', async () => {
    const s = await startToyServer({ stepDelayMs: 5 }, { maxNumSeqs: 1, maxWaiting: 1 });
    try {
      const a = await openStream(s.url);
      const b = await openStream(s.url);
      const r = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: body() });
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(((await r.json()) as { error: { code: number } }).error.code).toBe(429);
      a.destroy();
      b.destroy();
      await until(() => s.app.activeRequests === 0);
      expect((await fetch(`${s.url}/v1/completions`, { method: 'POST', body: body({ stream: false, max_tokens: 2 }) })).status).toBe(200);
    } finally {
      await s.app.close();
    }
  });

  it('a body over the limit is a 413', async () => {
    const s = await startToyServer({}, { maxBodyBytes: 1000 });
    try {
      const r = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: 'x'.repeat(2000) }) });
      expect(r.status).toBe(413);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/limit is 1000 bytes/);
    } finally {
      await s.app.close();
    }
  });

  it('/health is 503 while the model loads and after the engine died, 200 in between', async () => {
    let ready!: (e: never) => void;
    const s = await startToyServer();
    const app = new ApiServer({ engine: new Promise((r) => (ready = r as never)), modelName: MODEL });
    const { port } = await app.listen(0);
    try {
      const health = () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status);
      expect(await health()).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/v1/models`)).status).toBe(503);
      ready(s.engine as never);
      await new Promise((r) => setTimeout(r, 0));
      expect(await health()).toBe(200);
      s.engine.error = new Error('step failed');
      expect(await health()).toBe(503);
    } finally {
      await app.close();
      await s.app.close();
    }
  });

  it('drain: running streams finish, new requests get 503, then the server closes', async () => {
    const s = await startToyServer({ stepDelayMs: 2 });
    const stream = await openStream(s.url);
    const drained = s.app.drain();
    const refused = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: body({ stream: false }) });
    expect(refused.status).toBe(503);
    expect((await fetch(`${s.url}/health`)).status).toBe(503);
    const text = await stream.done;
    await drained;
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text.match(/"finish_reason":"length"/g)).toHaveLength(1);
  });
});
