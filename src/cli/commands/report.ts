/** `ds report [--json]`: the live tensor backend and why the others are not, threads, versions (like ds_report). */
import { createRequire } from 'node:module';
import os from 'node:os';
import type { CommandModule } from 'yargs';
import { initBackend } from '../../runtime/backend/index.ts';
import { formatTable } from '../table.ts';

const require = createRequire(import.meta.url);

export const reportCommand: CommandModule<object, { json: boolean }> = {
  command: 'report',
  describe: 'tensor backend, kernels, threads and versions',
  builder: (y) => y.option('json', { type: 'boolean', default: false }) as never,
  handler: async (argv) => {
    const info = await initBackend();
    const deepscale = (require('../../../package.json') as { version: string }).version;
    const report = { deepscale, backend: info.name, reason: info.reason, tried: info.tried, simd: info.simd, threads: info.threads, cpus: os.cpus().length, versions: info.versions, compute_dtype: 'float32' };
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const lines = [
      `deepscale ${deepscale}`,
      `live backend: ${info.name} (${info.reason})`,
      info.name === 'wasm' ? `wasm: SIMD ${info.simd ? 'yes' : 'no'}, threads ${info.threads} (Node refuses the threaded build's blob: workers, tfjs issue 3830); ${os.cpus().length} CPUs — run 2 ranks to use them` : '',
      'compute dtype: float32 (fp16/bf16 in a config set wire and storage precision only)',
      '',
      formatTable(['backend', 'status'], info.tried.map((t) => [t.name, t.ok ? 'OK' : t.why])),
      '',
      formatTable(['package', 'version'], Object.entries(info.versions)),
    ];
    process.stdout.write(`${lines.filter((l, i) => l !== '' || i > 2).join('\n')}\n`);
  },
};
