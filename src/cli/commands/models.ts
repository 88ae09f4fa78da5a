/** `ds models list`: the models in the local models directory (DS_MODELS), for `ds serve --model NAME`. */
import type { CommandModule } from 'yargs';
import { formatBytes, listLocalModels, modelsDir } from '../../inference/server/models_dir.ts';
import { formatTable } from '../table.ts';

export const modelsCommand: CommandModule = {
  command: 'models <action>',
  describe: 'local models (DS_MODELS, default ~/.cache/deepscale/models)',
  builder: (y) =>
    y
      .positional('action', { choices: ['list'] as const, describe: 'list: name, format, size and path of each model' })
      .option('dir', { type: 'string', describe: 'models directory (default: $DS_MODELS or ~/.cache/deepscale/models)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' }),
  handler: (argv) => {
    const root = (argv.dir as string | undefined) ?? modelsDir(process.env.DS_MODELS);
    const models = listLocalModels(root);
    if (argv.json) {
      process.stdout.write(JSON.stringify({ dir: root, models }, null, 2) + '\n');
      return;
    }
    if (models.length === 0) {
      process.stdout.write(`no models in ${root}\n`);
      return;
    }
    process.stdout.write(formatTable(['name', 'format', 'size', 'path'], models.map((m) => [m.name, m.format, formatBytes(m.sizeBytes), m.path])) + '\n');
  },
};
