/** `ds data prepare`: tokenize a corpus into Arrow IPC shards (see src/data/arrow/prepare.ts). */
import type { Argv, CommandModule } from 'yargs';
import { prepareDataset, validationNote } from '../../data/arrow/prepare.ts';

interface PrepareArgs {
  input: string;
  tokenizer: string;
  'seq-len': number;
  out: string;
  'val-fraction': number;
  seed: number;
  'shard-tokens': number;
  progress: boolean | undefined;
}

const prepare: CommandModule<object, PrepareArgs> = {
  command: 'prepare',
  describe: 'tokenize a .txt or .jsonl corpus into packed Arrow IPC shards with a manifest',
  builder: (y: Argv) =>
    y
      .option('input', { type: 'string', demandOption: true, describe: '.txt (documents separated by blank lines) or .jsonl ("text" field)' })
      .option('tokenizer', { type: 'string', demandOption: true, describe: 'train:VOCAB_SIZE, or a path to a tokenizer.json' })
      .option('seq-len', { type: 'number', demandOption: true, describe: 'tokens per training sequence (rows hold seq-len + 1)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
      .option('val-fraction', { type: 'number', default: 0.01, describe: 'fraction of rows held out for validation (about every 1/f-th row of the packed stream)' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the train/validation split' })
      .option('shard-tokens', { type: 'number', default: 2 ** 24, describe: 'tokens per shard, at most' })
      .option('progress', { type: 'boolean', describe: 'progress bar on stderr (default: inputs over 8 MB)' }) as unknown as Argv<PrepareArgs>,
  handler: async (a) => {
    const t0 = performance.now();
    const m = await prepareDataset({
      input: a.input,
      tokenizer: a.tokenizer,
      seqLen: a['seq-len'],
      out: a.out,
      valFraction: a['val-fraction'],
      seed: a.seed,
      shardTokens: a['shard-tokens'],
      progress: a.progress,
    });
    const s = m.splits;
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    process.stdout.write(
      `wrote ${a.out}: train ${s.train.rows} rows (${s.train.documents} docs, ${s.train.shards.length} shards), ` +
        `validation ${s.validation.rows} rows (${s.validation.documents} docs), seq_len ${m.seq_len}, vocab ${m.vocab_size}, ${secs} s\n`,
    );
    const note = validationNote(m);
    if (note) process.stderr.write(`${note}\n`);
  },
};

export const dataCommand: CommandModule = {
  command: 'data <command>',
  describe: 'dataset tools: prepare',
  builder: (y: Argv) => y.command(prepare).demandCommand(1, 'name a data command: ds data prepare --help'),
  handler: () => {},
};
