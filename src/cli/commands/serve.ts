/**
 * `ds serve --model M`: the OpenAI-compatible server. The listener opens first (/health is 503
 * until the model is loaded); SIGTERM or SIGINT drains: running requests finish, new ones get
 * 503, then the process exits.
 */
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import type { CommandModule } from 'yargs';
import { AsyncLLMEngine } from '../../inference/engine/index.ts';
import { loadModelAsync } from '../../inference/loaders/index.ts';
import { chooseDevice, DEVICES } from '../../inference/runner/device.ts';
import { ApiServer } from '../../inference/server/app.ts';
import { modelsDir, resolveModelPath } from '../../inference/server/models_dir.ts';
import { log } from '../../runtime/logger.ts';

interface ServeArgs {
  model: string;
  host: string;
  port: number;
  'max-num-seqs': number;
  threads?: number;
  device: string;
  'max-waiting': number;
  'kv-cache-memory': string;
  'max-model-len'?: number;
  'block-size': number;
  'api-key'?: string;
  'served-model-name'?: string;
  'max-body-bytes': number;
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions, /metrics …)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'a model dir, a .gguf, or a name in $DS_MODELS (see `ds models list`)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind (0.0.0.0 to serve other machines)' })
      .option('port', { type: 'number', default: 8000 })
      .option('max-num-seqs', { type: 'number', default: 256, describe: 'most sequences in the running batch' })
      .option('max-waiting', { type: 'number', default: 256, describe: 'requests that may wait beyond the batch before 429' })
      .option('kv-cache-memory', { type: 'string', default: '2GiB', describe: 'bytes for the KV cache (e.g. 512MiB, 2GiB)' })
      .option('max-model-len', { type: 'number', describe: "longest prompt + output (default: the model's context)" })
      .option('block-size', { type: 'number', default: 16, describe: 'tokens per KV block' })
      .option('device', { type: 'string', choices: DEVICES, default: 'cpu', describe: 'cpu: the wasm runner; webgpu: WGSL on the GPU (a software adapter too); auto: a hardware GPU if there is one, else cpu' })
      .option('threads', { type: 'number', describe: 'cpu: threads each batch is split over (weights and KV cache shared; default: the cores); webgpu runs on the device (1)' })
      .option('api-key', { type: 'string', describe: 'require `Authorization: Bearer KEY` (default: $DS_API_KEY)' })
      .option('served-model-name', { type: 'string', describe: 'the model name clients send (default: the model name or file name)' })
      .option('max-body-bytes', { type: 'number', default: 8 * 2 ** 20, describe: 'largest request body (else 413)' }) as never,
  handler: async (argv) => {
    const path = resolveModelPath(argv.model, modelsDir(process.env.DS_MODELS));
    const name = argv['served-model-name'] ?? basename(argv.model).replace(/\.gguf$/, '');
    const device = await chooseDevice(argv.device);
    log.info(`ds serve: device ${device.device}: ${device.reason}`);
    const engine = (async () => {
      const model = await loadModelAsync(path); // a .gguf loads one tensor per turn: /health answers 503 meanwhile
      const config = {
        kvCacheMemory: argv['kv-cache-memory'],
        maxNumSeqs: argv['max-num-seqs'],
        maxModelLen: argv['max-model-len'],
        blockSize: argv['block-size'],
        threads: argv.threads ?? (device.device === 'cpu' ? availableParallelism() : 1),
      };
      return AsyncLLMEngine.create(model, config, device.makeRunner);
    })();
    const app = new ApiServer({
      engine,
      modelName: name,
      modelRoot: path,
      apiKey: argv['api-key'] ?? process.env.DS_API_KEY ?? null,
      maxNumSeqs: argv['max-num-seqs'],
      maxWaiting: argv['max-waiting'],
      maxBodyBytes: argv['max-body-bytes'],
    });
    const addr = await app.listen(argv.port, argv.host);
    log.info(`ds serve: ${name} (${path}) on http://${addr.address}:${addr.port}/v1`);
    await engine; // a load failure ends the command with its error
    log.info('ds serve: model loaded, ready');
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info(`ds serve: ${signal}: draining ${app.activeRequests} running requests`);
        void app.drain().then(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  },
};
