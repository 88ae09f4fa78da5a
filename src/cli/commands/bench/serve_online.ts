/**
 * `ds bench serve-online --url URL` (or `--model M`, which starts `ds serve` in a child process on
 * a free port): Poisson load against an OpenAI-compatible server, reported as vLLM's
 * benchmark_serving does (throughput; TTFT, TPOT, ITL, E2E latency mean / median / p99).
 * The offline `ds bench serve` may dispatch here with `serveOnlineHandler` when given --url.
 */
import { availableParallelism } from 'node:os';
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { loadClientTokenizer } from '../../../inference/bench/client_tokenizer.ts';
import { runOnlineBench, type OnlineBenchResult } from '../../../inference/bench/online.ts';
import { startChildServer, type ChildServer } from '../../../inference/bench/child_server.ts';
import { modelsDir, resolveModelPath } from '../../../inference/server/models_dir.ts';
import { InputError } from '../../../errors.ts';
import { formatTable } from '../../table.ts';
import { runThroughput } from '../../../inference/bench/serve_bench.ts';
import { loadModel } from '../../../inference/loaders/index.ts';

export interface ServeOnlineArgs {
  url?: string;
  model?: string;
  'served-model-name'?: string;
  'api-key'?: string;
  tokenizer?: string;
  'num-prompts': number;
  'request-rate': number;
  'max-concurrency'?: number;
  'input-len': number;
  'output-len': number;
  dataset?: string;
  seed: number;
  'kv-cache-memory': string;
  'max-num-seqs': number;
  threads: number;
  'result-file'?: string;
  'compare-offline'?: boolean;
  json: boolean;
}

function report(r: OnlineBenchResult): string {
  const f = (x: number) => x.toFixed(2);
  const rows: (string | number)[][] = [
    ['successful requests', r.completed], ['failed requests', r.failed], ['duration (s)', f(r.duration_s)],
    ['total input tokens', r.total_input_tokens], ['total generated tokens', r.total_output_tokens],
    ['request throughput (req/s)', f(r.request_throughput)], ['output token throughput (tok/s)', f(r.output_throughput)],
    ['total token throughput (tok/s)', f(r.total_token_throughput)],
  ];
  for (const [name, d] of [['TTFT', r.ttft_ms], ['TPOT', r.tpot_ms], ['ITL', r.itl_ms], ['E2E latency', r.e2el_ms]] as const) {
    rows.push([`mean ${name} (ms)`, f(d.mean)], [`median ${name} (ms)`, f(d.median)], [`p99 ${name} (ms)`, f(d.p99)]);
  }
  return formatTable(['metric', 'value'], rows);
}

/** Runs the online benchmark from parsed arguments; prints, and writes --result-file. */
export async function serveOnlineHandler(argv: ServeOnlineArgs): Promise<OnlineBenchResult> {
  if (!argv.url && !argv.model) throw new InputError('bench serve-online: give --url of a running server, or --model to start one');
  if (argv['compare-offline'] && argv.url) throw new InputError('bench serve: --compare-offline needs --model (the offline engine runs that model here), not --url');
  let server: ChildServer | null = null;
  let url = argv.url?.replace(/\/+$/, '').replace(/\/v1$/, '');
  let model = argv['served-model-name'];
  // The client tokenizes (as vLLM's benchmark does): --tokenizer, else the model this command serves.
  let tokenizer = argv.tokenizer ? loadClientTokenizer(argv.tokenizer) : undefined;
  if (!url) {
    const path = resolveModelPath(argv.model!, modelsDir(process.env.DS_MODELS));
    tokenizer ??= loadClientTokenizer(path);
    model ??= 'bench';
    server = await startChildServer({
      model: path, servedModelName: model, threads: argv.threads, maxNumSeqs: argv['max-num-seqs'], maxWaiting: argv['num-prompts'], kvCacheMemory: argv['kv-cache-memory'],
      blockSize: (argv as { 'block-size'?: number })['block-size'],
    });
    url = server.url;
  }
  try {
    const result = await runOnlineBench({
      url, model, apiKey: argv['api-key'] ?? process.env.DS_API_KEY, numPrompts: argv['num-prompts'], requestRate: argv['request-rate'],
      maxConcurrency: argv['max-concurrency'], inputLen: argv['input-len'], outputLen: argv['output-len'], datasetPath: argv.dataset, seed: argv.seed, tokenizer,
    });
    await server?.stop();
    server = null;
    const offline = argv['compare-offline'] ? offlineReference(argv, result) : null;
    const out = offline ? { ...result, offline } : result;
    if (argv['result-file']) writeFileSync(argv['result-file'], JSON.stringify(out, null, 2) + '\n');
    const ratio = offline ? `offline engine, same requests at concurrency ${offline.maxNumSeqs}: ${offline.outputTokPerS.toFixed(2)} output tok/s; online / offline: ${(result.output_throughput / offline.outputTokPerS).toFixed(2)}×\n` : '';
    process.stdout.write(argv.json ? JSON.stringify(out) + '\n' : report(result) + '\n' + ratio + (result.errors.length ? `errors: ${result.errors.join('; ')}\n` : ''));
    return result;
  } finally {
    await server?.stop();
  }
}

/**
 * --compare-offline: the requests the online run completed (their prompt and output lengths) on
 * the offline engine in this process, all queued at once, at most --max-concurrency (else
 * --max-num-seqs) running: what the HTTP path is measured against.
 */
function offlineReference(argv: ServeOnlineArgs, online: OnlineBenchResult): { maxNumSeqs: number; outputTokPerS: number } {
  const model = loadModel(resolveModelPath(argv.model!, modelsDir(process.env.DS_MODELS)));
  const lens = online.requests.filter((r) => r.ok);
  const work = lens.map((r, i) => ({ promptTokenIds: Array.from({ length: Math.max(1, r.promptLen) }, (_, j) => (i * 31 + j * 7) % Math.min(256, model.config.vocabSize)), maxTokens: Math.max(1, r.outputTokens) }));
  const maxNumSeqs = argv['max-concurrency'] ?? argv['max-num-seqs'];
  const r = runThroughput(model, work, 'continuous', { maxNumSeqs, kvCacheMemory: argv['kv-cache-memory'], threads: argv.threads, blockSize: (argv as { 'block-size'?: number })['block-size'] });
  return { maxNumSeqs, outputTokPerS: r.outputTokPerS };
}

/** Defaults of the options `ds bench serve` shares with its offline mode, whose own defaults differ. */
export const ONLINE_DEFAULTS = { 'num-prompts': 100, 'max-num-seqs': 64 } as const;

/** The online benchmark's options (on `bench serve-online`, and on `bench serve` without --offline). */
export function onlineOptions<T>(y: Argv<T>) {
  return y
    .option('url', { type: 'string', describe: 'base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000' })
    .option('served-model-name', { type: 'string', describe: 'the `model` field to send' })
    .option('api-key', { type: 'string' })
    .option('tokenizer', { type: 'string', describe: 'online: the client\'s tokenizer (tokenizer.json, model dir or .gguf) for --input-len prompts and token counts; default: --model\'s' })
    .option('request-rate', { type: 'number', default: Infinity, describe: 'online: Poisson arrivals per second (inf: all at once)' })
    .option('max-concurrency', { type: 'number', describe: 'online: most requests in flight' })
    .option('input-len', { type: 'number', default: 128, describe: 'online: prompt tokens (random prompts)' })
    .option('output-len', { type: 'number', default: 32, describe: 'online: generated tokens per request (ignore_eos)' })
    .option('dataset', { type: 'string', describe: 'online: JSONL of {"prompt", "output_len"} instead of random prompts' })
    .option('result-file', { type: 'string', describe: 'online: write the result as JSON here' })
    .option('compare-offline', { type: 'boolean', describe: 'online with --model: afterwards, the same requests on the offline engine in-process (same concurrency, threads, KV), and online / offline output tok/s' });
}

export const serveOnlineBenchCommand: CommandModule<object, ServeOnlineArgs> = {
  command: 'serve-online',
  describe: 'load a running server (--url) or one started here (--model): throughput, TTFT, TPOT, ITL, latency (same as `bench serve --url`)',
  builder: (y) =>
    onlineOptions(y)
      .option('model', { type: 'string', describe: 'start a server on this model instead (dir, .gguf or name)' })
      .option('num-prompts', { type: 'number', default: ONLINE_DEFAULTS['num-prompts'] })
      .option('seed', { type: 'number', default: 0 })
      .option('kv-cache-memory', { type: 'string', default: '256MiB' })
      .option('max-num-seqs', { type: 'number', default: ONLINE_DEFAULTS['max-num-seqs'] })
      .option('threads', { type: 'number', default: availableParallelism(), describe: 'runner threads of the server it starts (without --url)' })
      .option('json', { type: 'boolean', default: false }) as never,
  handler: async (argv) => {
    await serveOnlineHandler(argv);
  },
};
