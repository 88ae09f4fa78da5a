import type { CommandModule } from 'yargs';
import { runLaunchCli } from '../../runtime/launcher/cli.ts';

/** `ds launch …`: the same as `ds-launch …` (its flags are parsed by the launcher itself). */
export const launchCommand: CommandModule = {
  command: 'launch',
  describe: 'start N ranks of a training script (same as ds-launch)',
  builder: (y) => y.help(false).version(false).strict(false).parserConfiguration({ 'unknown-options-as-args': true }),
  handler: async () => {
    const i = process.argv.indexOf('launch');
    await runLaunchCli(process.argv.slice(i + 1));
  },
};
