/** Request bodies (size-limited JSON), JSON replies and server-sent events over node:http. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidRequestError } from '../../errors.ts';
import { HttpError } from './http_errors.ts';

/** Reads the whole body; more than `limit` bytes is a 413 (checked on Content-Length first). */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `request body is ${declared} bytes, the limit is ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body is over the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new InvalidRequestError('the request body is empty; expected a JSON object', null);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidRequestError(`the request body is not valid JSON: ${(err as Error).message}`, null);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** An SSE stream: `data: {json}\n\n` per event, `data: [DONE]\n\n` at the end. */
export class SseWriter {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  send(event: unknown): void {
    if (!this.closed) this.res.write(`data: ${JSON.stringify(event)}\n\n`);
  }

  done(): void {
    if (!this.closed) this.res.end('data: [DONE]\n\n');
  }
}
