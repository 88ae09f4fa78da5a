/**
 * A streamed POST read as server-sent events, over node:http(s) rather than fetch: fetch's web
 * streams cost the benchmark client several times the CPU per event, which on a small machine
 * is taken from the server it measures. Events are the data: lines of each block (comments and
 * event: lines skipped); a character split across reads is kept for the next (streaming UTF-8).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

export interface SseResponse {
  readonly status: number;
  /** The body, when the status is not 2xx (no events then). */
  readonly errorBody: string | null;
}

/** POSTs `body` to `url` and calls onEvent with each event's data; resolves when the stream ends, rejects if onEvent throws. */
export function postSse(url: string, headers: Record<string, string>, body: string, onEvent: (data: string) => void, idleTimeoutMs = 120_000): Promise<SseResponse> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(u, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent: secure ? agents.https : agents.http }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const utf8 = new TextDecoder();
      let buf = '';
      let pendingCr = '';
      res.on('data', (bytes: Buffer) => {
        // SSE allows CRLF and CR line ends (sse-starlette sends CRLF): one form before splitting;
        // a CR at the end of a read waits for the next, which may start with its LF.
        let text = pendingCr + utf8.decode(bytes, { stream: true });
        pendingCr = text.endsWith('\r') ? '\r' : '';
        if (pendingCr) text = text.slice(0, -1);
        buf += text.replace(/\r\n?/g, '\n');
        if (status < 200 || status >= 300) return;
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block.startsWith('data:') && !block.includes('\n') ? block.slice(5).trimStart() : dataLines(block);
          if (data === '') continue;
          try {
            onEvent(data);
          } catch (err) {
            req.destroy();
            reject(err as Error);
            return;
          }
        }
      });
      res.on('end', () => resolve({ status, errorBody: status >= 200 && status < 300 ? null : buf }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A server that stalls mid-stream fails the request instead of hanging the benchmark.
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`${url}: no bytes for ${idleTimeoutMs / 1000} s`)));
    req.end(body);
  });
}

function dataLines(block: string): string {
  return block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
}
