/** `ds generate --model M --prompt "..."`: offline generation of one prompt; prints the text, or one JSON object. */
import { availableParallelism } from 'node:os';
import type { CommandModule } from 'yargs';
import { LLM } from '../../inference/engine/index.ts';
import { chooseDevice, DEVICES } from '../../inference/runner/device.ts';
import { modelsDir, resolveModelPath } from '../../inference/server/models_dir.ts';
import { makeSamplingParams } from '../../inference/sampler/index.ts';
import { log } from '../../runtime/logger.ts';

interface Args {
  model: string;
  prompt: string;
  'max-tokens': number;
  temperature: number;
  'top-p': number;
  'top-k': number;
  seed: number | undefined;
  'kv-cache-memory': string;
  device: string;
  threads?: number;
  json: boolean;
}

export const generateCommand: CommandModule<object, Args> = {
  command: 'generate',
  describe: 'generate text from a model (.gguf, model dir, safetensors)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'a model dir, a .gguf, or a name in $DS_MODELS (see `ds models list`)' })
      .option('prompt', { type: 'string', demandOption: true })
      .option('max-tokens', { type: 'number', default: 64 })
      .option('temperature', { type: 'number', default: 1 })
      .option('top-p', { type: 'number', default: 1 })
      .option('top-k', { type: 'number', default: 0, describe: '0 = off' })
      .option('seed', { type: 'number' })
      .option('kv-cache-memory', { type: 'string', default: '64MiB' })
      .option('device', { type: 'string', choices: DEVICES, default: 'cpu', describe: 'cpu (wasm), webgpu (a software adapter too), or auto (a hardware GPU if there is one)' })
      .option('threads', { type: 'number', describe: 'cpu: threads each product of the one sequence is split over by rows (default: the cores); webgpu: 1' })
      .option('json', { type: 'boolean', default: false, describe: 'print {prompt_token_ids, token_ids, text, finish_reason}' }) as never,
  handler: async (argv) => {
    const params = makeSamplingParams({
      max_tokens: argv['max-tokens'],
      temperature: argv.temperature,
      top_p: argv['top-p'],
      top_k: argv['top-k'],
      seed: argv.seed ?? null,
    });
    const device = await chooseDevice(argv.device);
    log.info(`ds generate: device ${device.device}: ${device.reason}`);
    const model = resolveModelPath(argv.model, modelsDir(process.env.DS_MODELS));
    const threads = argv.threads ?? (device.device === 'cpu' ? availableParallelism() : 1);
    const llm = await LLM.create({ model, kvCacheMemory: argv['kv-cache-memory'], maxNumSeqs: 1, threads }, device.makeRunner);
    const [out] = llm.generate(argv.prompt, params);
    llm.dispose();
    const o = out!.outputs[0]!;
    if (argv.json) {
      const result = { prompt_token_ids: out!.promptTokenIds, token_ids: o.tokenIds, text: o.text, finish_reason: o.finishReason };
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      process.stdout.write(`${o.text}\n`);
    }
  },
};
