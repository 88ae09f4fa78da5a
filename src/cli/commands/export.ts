/** `ds export --checkpoint CKPT --out PATH --format dir|gguf`: a training checkpoint → an inference model. */
import type { Argv, CommandModule } from 'yargs';
import { parseMemory } from '../../inference/engine/config.ts';
import { DTYPES, FORMATS, QUANTS, exportCheckpoint } from '../../export/index.ts';

interface Args {
  checkpoint: string;
  tag: string | undefined;
  out: string;
  format: string;
  dtype: string | undefined;
  quantize: string | undefined;
  'max-shard-size': string;
  force: boolean;
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export',
  describe: 'export a training checkpoint as an HF model dir or a llama.cpp GGUF',
  builder: (y: Argv) =>
    y
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory (the one holding `latest`)' })
      .option('tag', { type: 'string', describe: 'checkpoint tag (default: the one `latest` names)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output: a directory (dir) or a .gguf file' })
      .option('format', { type: 'string', default: 'dir', describe: FORMATS.join(' | ') })
      .option('dtype', { type: 'string', describe: `weights' type: ${DTYPES.join(' | ')} (default fp32)` })
      .option('quantize', { type: 'string', describe: `GGUF block quantization: ${QUANTS.join(' | ')}` })
      .option('max-shard-size', { type: 'string', default: '5GB', describe: 'dir: split model.safetensors into shards of at most this size' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing output' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const t0 = performance.now();
    const r = await exportCheckpoint({
      checkpoint: a.checkpoint,
      tag: a.tag,
      out: a.out,
      format: a.format,
      dtype: a.dtype,
      quantize: a.quantize,
      maxShardBytes: parseMemory(a['max-shard-size'], '--max-shard-size'),
      overwrite: a.force,
    });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    process.stdout.write(`exported ${a.checkpoint} tag ${r.tag} (${r.parameters} parameters, ${r.type}) to ${r.out}: ${r.files.join(', ')} in ${secs} s\n`);
  },
};
