/**
 * `ds bench serve --offline --device webgpu|auto`: decode tok/s at batch 1 / 8 / 32 on the
 * chosen device beside the cpu (wasm) runner on the same model in the same run, as ratios. A
 * software adapter (llvmpipe/lavapipe) is a CPU emulation: its figures say the path works, not
 * how fast a GPU is, and the table says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchModelConfig, writeRandomGguf } from '../../../inference/bench/random_model.ts';
import { runDecode, runDecodeOn } from '../../../inference/bench/serve_bench.ts';
import { loadModel } from '../../../inference/loaders/index.ts';
import type { DeviceChoice } from '../../../inference/runner/device.ts';
import { formatTable } from '../../table.ts';

export interface DeviceBenchArgs {
  readonly model?: string;
  readonly 'decode-tokens': number;
  readonly threads: number;
  readonly json: boolean;
}

export async function deviceDecodeBench(argv: DeviceBenchArgs, device: DeviceChoice): Promise<void> {
  const dir = argv.model ? null : mkdtempSync(join(tmpdir(), 'ds-bench-device-'));
  try {
    const path = argv.model ?? join(dir!, 'random-llama.gguf');
    if (dir) writeRandomGguf(path, benchModelConfig(), 0);
    const model = loadModel(path);
    const rows = [];
    for (const b of [1, 8, 32]) {
      const dev = await runDecodeOn(device.makeRunner, model, b, 16, argv['decode-tokens']);
      const cpu = runDecode(model, b, 16, argv['decode-tokens'], 0, argv.threads);
      rows.push({ batch: b, device: dev.tokPerS, cpu: cpu.tokPerS, ratio: dev.tokPerS / cpu.tokPerS });
    }
    const software = / software /.test(` ${device.reason} `);
    const result = { model: argv.model ?? 'random d256 L4 H8 ff688 V258 f32', device: device.reason, software, cpuThreads: argv.threads, decode: rows };
    if (argv.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(
      `device: ${device.reason}${software ? '\n(a software adapter: a CPU emulation; these figures show the path works, they are not GPU figures)' : ''}\n` +
        `${formatTable(['batch', 'webgpu tok/s', `cpu tok/s (${argv.threads} threads)`, 'webgpu / cpu'], rows.map((r) => [r.batch, r.device.toFixed(1), r.cpu.toFixed(1), `${r.ratio.toFixed(2)}×`]))}\n`,
    );
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
