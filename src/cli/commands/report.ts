/** `ds report [--json]`: the live tensor backend and why the others are not, threads, versions (like ds_report). */
import type { CommandModule } from 'yargs';
import { deviceReport, type DeviceReport } from '../../inference/runner/device.ts';
import { buildBackendReport, type BackendReport } from '../../runtime/backend/report.ts';
import { formatTable } from '../table.ts';

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** Serving devices: the WebGPU adapters Dawn sees and what --device auto would take. */
function formatDevices(d: DeviceReport): string {
  const rows = d.adapters.map((a) => [a.description, a.vendor, a.architecture, a.software ? 'software (never picked by auto)' : 'hardware', MiB(a.maxBufferSize), MiB(a.maxStorageBufferBindingSize), a.shaderF16 ? 'yes' : 'no']);
  return [
    `serving devices: cpu (wasm runner, always available); webgpu (npm webgpu ${d.package}) ` + (d.adapters.length > 0 ? `(${d.adapters.length} adapter(s))` : `(none: ${d.reason})`),
    ...(rows.length > 0 ? [formatTable(['webgpu adapter', 'vendor', 'architecture', 'kind', 'max buffer', 'max storage binding', 'shader-f16'], rows)] : []),
    `--device auto: ${d.auto}`,
  ].join('\n');
}

function formatReport(r: BackendReport): string {
  const threadNote = r.backend === 'wasm' && r.native.live
    ? `wasm: SIMD ${r.simd ? 'yes' : 'no'}; training matmuls on the native sgemm: ${r.native.isa}, ${r.native.threads} threads; ${r.cpus} CPUs`
    : r.backend === 'wasm'
    ? `wasm: SIMD ${r.simd ? 'yes' : 'no'}, ${r.threads} thread (Node refuses the threaded build's blob: workers, tfjs issue 3830); ${r.cpus} CPUs: run one rank per core to use them`
    : `threads: ${r.threads}; ${r.cpus} CPUs`;
  return [
    `deepscale ${r.deepscale}`,
    `live backend: ${r.backend} (${r.reason})`,
    threadNote,
    `native kernels: ${r.native.why}`,
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
    const devices = await deviceReport();
    process.stdout.write(`${argv.json ? JSON.stringify({ ...report, devices }) : `${formatReport(report)}\n\n${formatDevices(devices)}`}\n`);
  },
};
