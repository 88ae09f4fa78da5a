/**
 * The OpenAI-compatible HTTP server over node:http. Routes:
 *   POST /v1/completions, POST /v1/chat/completions, GET /v1/models,
 *   POST /tokenize, POST /detokenize, GET /health, GET /metrics.
 * With an API key, every route but /health and /metrics needs `Authorization: Bearer <key>`.
 * Admission: at most maxNumSeqs + maxWaiting generation requests at once; more get 429 with
 * Retry-After. A client that disconnects aborts its request (its KV blocks are freed at the
 * engine's next step). drain() (SIGTERM) answers new requests 503, lets the running ones
 * finish, then closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidRequestError } from '../../errors.ts';
import { log } from '../../runtime/logger.ts';
import { handleChat } from './chat.ts';
import { handleCompletion, type ModelContext } from './completions.ts';
import type { ServingEngine } from './engine.ts';
import { readJsonBody, sendJson } from './http.ts';
import { HttpError, toErrorResponse } from './http_errors.ts';
import { ServerMetrics } from './metrics.ts';
import { handleDetokenize, handleTokenize } from './tokenize.ts';

export interface ApiServerOptions {
  /** The engine, or a promise of it while the model loads (/health is 503 until then). */
  readonly engine: ServingEngine | Promise<ServingEngine>;
  /** The name clients pass as `model` (--served-model-name). */
  readonly modelName: string;
  /** Where the model came from, shown as `root` in /v1/models. */
  readonly modelRoot?: string;
  readonly apiKey?: string | null;
  readonly maxNumSeqs?: number;
  /** Requests allowed to wait beyond the running batch before 429 (default 256). */
  readonly maxWaiting?: number;
  /** Largest request body in bytes (default 8 MiB), else 413. */
  readonly maxBodyBytes?: number;
}

type Handler = (ctx: ModelContext, body: unknown, res: ServerResponse, signal: AbortSignal) => Promise<void> | void;

const POST_ROUTES: Readonly<Record<string, { handler: Handler; generates: boolean }>> = {
  '/v1/completions': { handler: handleCompletion, generates: true },
  '/v1/chat/completions': { handler: handleChat, generates: true },
  '/tokenize': { handler: handleTokenize, generates: false },
  '/detokenize': { handler: handleDetokenize, generates: false },
};

export class ApiServer {
  readonly server: Server;
  readonly metrics: ServerMetrics;
  private engine: ServingEngine | null = null;
  private loadError: Error | null = null;
  private draining = false;
  /** Generation requests admitted and not yet answered. */
  private active = 0;
  private readonly idle: (() => void)[] = [];
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly maxActive: number;
  private readonly maxBodyBytes: number;

  constructor(private readonly opts: ApiServerOptions) {
    this.maxActive = (opts.maxNumSeqs ?? 256) + (opts.maxWaiting ?? 256);
    this.maxBodyBytes = opts.maxBodyBytes ?? 8 * 2 ** 20;
    this.metrics = new ServerMetrics(opts.modelName, () => this.engine?.stats() ?? null);
    Promise.resolve(opts.engine).then(
      (e) => (this.engine = e),
      (err: unknown) => {
        this.loadError = err instanceof Error ? err : new Error(String(err));
        log.error(`serve: the model failed to load: ${this.loadError.message}`);
      },
    );
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** Starts listening (port 0: any free port); resolves to the bound address. */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  get activeRequests(): number {
    return this.active;
  }

  /** Refuse new requests (503), wait for the running ones, close the listener and the engine. */
  async drain(): Promise<void> {
    this.draining = true;
    if (this.active > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
    await this.engine?.shutdown();
  }

  /** Close now: open streams are cut (their requests abort). */
  async close(): Promise<void> {
    this.draining = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.engine?.shutdown();
  }

  private healthy(): boolean {
    return this.engine !== null && this.engine.error === null && !this.draining;
  }

  private context(engine: ServingEngine): ModelContext {
    const name = this.opts.modelName;
    return {
      engine,
      metrics: this.metrics,
      resolveModel(model) {
        if (model == null || model === name) return name;
        throw new InvalidRequestError(`The model \`${model}\` does not exist.`, 'model', 404);
      },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    let admitted = false;
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method === 'GET' && path === '/health') return this.health(res);
      if (req.method === 'GET' && path === '/metrics') {
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        return void res.end(text);
      }
      this.authorize(req);
      const route = req.method === 'POST' ? POST_ROUTES[path] : undefined;
      if (!route && !(req.method === 'GET' && path === '/v1/models')) {
        throw new HttpError(404, `no route for ${req.method} ${path}`);
      }
      const engine = this.ready();
      if (!route) return sendJson(res, 200, this.models(engine));
      if (route.generates) {
        if (this.active >= this.maxActive) {
          throw new HttpError(429, `the server is full: ${this.active} requests running or waiting (limit ${this.maxActive}); retry later`, { 'retry-after': '1' });
        }
        this.active++;
        admitted = true;
      }
      const body = await readJsonBody(req, this.maxBodyBytes);
      await route.handler(this.context(engine), body, res, ac.signal);
    } catch (err) {
      this.fail(res, err);
    } finally {
      if (admitted && --this.active === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  private health(res: ServerResponse): void {
    if (this.healthy()) return void res.writeHead(200).end();
    const why = this.draining ? 'draining' : this.loadError ? `load failed: ${this.loadError.message}` : this.engine?.error ? `engine died: ${this.engine.error.message}` : 'loading';
    sendJson(res, 503, { status: why });
  }

  private ready(): ServingEngine {
    if (this.draining) throw new HttpError(503, 'the server is shutting down');
    if (!this.engine) throw new HttpError(503, this.loadError ? `the model failed to load: ${this.loadError.message}` : 'the model is still loading');
    if (this.engine.error) throw new HttpError(503, `the engine stopped: ${this.engine.error.message}`);
    return this.engine;
  }

  private authorize(req: IncomingMessage): void {
    const key = this.opts.apiKey;
    if (key && req.headers.authorization !== `Bearer ${key}`) throw new HttpError(401, 'Unauthorized: a valid `Authorization: Bearer <api key>` header is required');
  }

  private models(engine: ServingEngine) {
    const card = { id: this.opts.modelName, object: 'model', created: this.created, owned_by: 'deepscale', root: this.opts.modelRoot ?? this.opts.modelName, parent: null, max_model_len: engine.maxModelLen };
    return { object: 'list', data: [card] };
  }

  private fail(res: ServerResponse, err: unknown): void {
    const r = toErrorResponse(err);
    if (res.destroyed) return;
    // Mid-stream: the status line is gone; tell the client in the stream, as vLLM does.
    if (res.headersSent) return void res.end(`data: ${JSON.stringify(r.body)}\n\ndata: [DONE]\n\n`);
    sendJson(res, r.status, r.body, r.headers);
  }
}
