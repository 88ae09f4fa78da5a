/** `ds bench <what>`: the benchmarks. Each prints a table, or one JSON object with --json. */
import type { CommandModule } from 'yargs';
import { commBenchCommand } from './bench/comm.ts';
import { kernelsBenchCommand } from './bench/kernels.ts';
import { trainBenchCommand } from './bench/train.ts';
import { serveOnlineBenchCommand } from './bench/serve_online.ts';
import { serveBenchCommand } from './bench/serve.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const subcommands: CommandModule<any, any>[] = [kernelsBenchCommand, trainBenchCommand, commBenchCommand, serveOnlineBenchCommand, serveBenchCommand];

export const benchCommand: CommandModule = {
  command: 'bench <what>',
  describe: 'benchmarks: kernels, train, comm, serve',
  builder: (y) => {
    for (const c of subcommands) y.command(c);
    return y.demandCommand(1);
  },
  handler: () => {},
};
