/** `ds report [--json]`: the live tensor backend and why the others are not, threads, versions (like ds_report). */
import type { CommandModule } from 'yargs';
import { buildBackendReport, type BackendReport } from '../../runtime/backend/report.ts';
import { formatTable } from '../table.ts';

function formatReport(r: BackendReport): string {
  const threadNote = r.backend === 'wasm'
    ? `wasm: SIMD ${r.simd ? 'yes' : 'no'}, ${r.threads} thread (Node refuses the threaded build's blob: workers, tfjs issue 3830); ${r.cpus} CPUs: run one rank per core to use them`
    : `threads: ${r.threads}; ${r.cpus} CPUs`;
  return [
    `deepscale ${r.deepscale}`,
    `live backend: ${r.backend} (${r.reason})`,
    threadNote,
    `compute dtype: ${r.computeDtype} (fp16/bf16 in a config set wire and storage precision only)`,
    '',
    formatTable(['backend', 'status'], r.tried.map((t) => [t.name, t.ok ? 'OK (live)' : t.why])),
    '',
    formatTable(['kernel', 'deepscale'], r.kernels.map((k) => [k.kernel, k.why])),
    '',
    formatTable(['package', 'version'], Object.entries(r.versions)),
  ].join('\n');
}

export const reportCommand: CommandModule<object, { json: boolean }> = {
  command: 'report',
  describe: 'tensor backend, kernels, threads and versions',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }) as never,
  handler: async (argv) => {
    const report = await buildBackendReport();
    process.stdout.write(`${argv.json ? JSON.stringify(report) : formatReport(report)}\n`);
  },
};
