import type { CommandModule } from 'yargs';
import { dataCommand } from './data.ts';
import { launchCommand } from './launch.ts';
import { benchCommand } from './bench.ts';
import { reportCommand } from './report.ts';
import { generateCommand } from './generate.ts';
import { serveCommand } from './serve.ts';
import { modelsCommand } from './models.ts';
import { exportCommand } from './export.ts';
import { plotCommand } from './plot.ts';
import { quantizeCommand } from './quantize.ts';
import { checkpointCommand } from './checkpoint.ts';

/** Every `ds` subcommand; one file each in this folder. Add yours here (one line). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [launchCommand, dataCommand, benchCommand, reportCommand, serveCommand, modelsCommand, generateCommand, exportCommand, quantizeCommand, checkpointCommand, plotCommand];
