/**
 * `ds`: the command-line entry. Each subcommand is a yargs CommandModule in src/cli/commands/.
 * A DeepscaleError (a user's mistake) prints its message and exits 1 with no stack trace.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DeepscaleError } from '../errors.ts';
import { commands } from './commands/index.ts';

export async function runCli(argv: string[]): Promise<void> {
  let cli = yargs(argv)
    .scriptName('ds')
    .strict()
    .demandCommand(1, 'name a command: ds <command> --help')
    .recommendCommands()
    .help()
    .fail((msg, err) => {
      throw err ?? new DeepscaleError('usage', msg);
    });
  for (const c of commands) cli = cli.command(c);
  await cli.parseAsync();
}

try {
  await runCli(hideBin(process.argv));
} catch (err) {
  if (err instanceof DeepscaleError) {
    process.stderr.write(`ds: error: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
