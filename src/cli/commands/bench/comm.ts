/** `ds bench comm --num_procs N [--json]`: collective bandwidth against raw loopback TCP. */
import type { CommandModule } from 'yargs';
import { formatCommBench, runCommBench } from '../../../runtime/comm/bench.ts';

interface Args { num_procs: number; json: boolean; min_bytes: number; max_bytes: number; factor: number; chunk_bytes: number }

export const commBenchCommand: CommandModule<object, Args> = {
  command: 'comm',
  describe: 'time all-reduce, reduce-scatter and all-gather over TCP between local ranks (nccl-tests style)',
  builder: (y) =>
    y
      .option('num_procs', { type: 'number', default: 2, describe: 'ranks to spawn on 127.0.0.1' })
      .option('min_bytes', { type: 'number', default: 1 << 10 })
      .option('max_bytes', { type: 'number', default: 64 << 20 })
      .option('factor', { type: 'number', default: 4, describe: 'size step between rows' })
      .option('chunk_bytes', { type: 'number', default: 1 << 20, describe: 'frame payload size (pipelining grain)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object instead of the table' }) as never,
  handler: async (argv) => {
    const result = await runCommBench({
      numProcs: argv.num_procs, minBytes: argv.min_bytes, maxBytes: argv.max_bytes, factor: argv.factor, chunkBytes: argv.chunk_bytes,
    });
    process.stdout.write(argv.json ? `${JSON.stringify(result)}\n` : `${formatCommBench(result)}\n`);
  },
};
