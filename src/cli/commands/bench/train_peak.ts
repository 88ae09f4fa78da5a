/**
 * The machine's float32 peak for `ds bench train`'s MFU, two ways, both printed:
 *   theoretical: cores × SIMD lanes × 2 (an FMA is two FLOPs) × FMA pipes × clock, from /proc/cpuinfo;
 *   measured: the best sgemm this process has (the native AVX-512/AVX2 sgemm on every core when it
 *             is built, else tfjs-wasm's XNNPACK on one thread), 1024³, best of three medians.
 * Neither is the training run's own single-thread matmul, which flatters the figure.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { initBackend } from '../../../runtime/backend/index.ts';
import { measureMatmulGflops } from '../../../runtime/backend/bench.ts';

export interface MachinePeak {
  readonly cores: number;
  readonly ghz: number;
  readonly isa: string;
  readonly lanes: number;
  readonly fmaPipes: number;
  readonly peakGflops: number;
  /** How the peak was reckoned, as a formula a user can check. */
  readonly formula: string;
  readonly sgemmGflops: number;
  readonly sgemmKernel: string;
}

/** Lanes and FMA pipes of the machine's widest float32 vector unit (the native kernels use it too). */
function vectorUnit(flags: Set<string>): { isa: string; lanes: number; fmaPipes: number; fma: boolean } {
  // Two FMA pipes: Skylake-SP / Ice Lake-SP Gold and Platinum (AVX-512), x86 since Haswell / Zen 2
  // (256-bit). Some Xeon Silver/Bronze have one 512-bit pipe: there the theoretical peak is half
  // of what is printed, and the measured sgemm line shows it.
  if (flags.has('avx512f')) return { isa: 'avx512', lanes: 16, fmaPipes: 2, fma: true };
  if (flags.has('avx2') && flags.has('fma')) return { isa: 'avx2+fma', lanes: 8, fmaPipes: 2, fma: true };
  if (flags.has('avx')) return { isa: 'avx', lanes: 8, fmaPipes: 1, fma: false };
  return { isa: 'sse/neon (128-bit)', lanes: 4, fmaPipes: 1, fma: flags.has('asimd') };
}

function cpuinfo(): { flags: Set<string>; mhz: number | null } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const flags = new Set((/^(flags|Features)\s*:\s*(.*)$/m.exec(text)?.[2] ?? '').split(/\s+/));
    const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(text)?.[1]);
    return { flags, mhz: Number.isFinite(mhz) && mhz > 0 ? mhz : null };
  } catch {
    return { flags: new Set(), mhz: null };
  }
}

export async function machinePeak(): Promise<MachinePeak> {
  const { flags, mhz } = cpuinfo();
  const cores = os.availableParallelism();
  const ghz = (mhz ?? os.cpus()[0]?.speed ?? 0) / 1000;
  const v = vectorUnit(flags);
  const fmaFactor = v.fma ? 2 : 1;
  const peakGflops = cores * v.lanes * fmaFactor * v.fmaPipes * ghz;
  const info = await initBackend();
  // The best of three medians: on a shared machine the best is the closest to what the kernel can do.
  let sgemmGflops = 0;
  for (let i = 0; i < 3; i++) sgemmGflops = Math.max(sgemmGflops, await measureMatmulGflops(info.name, 1024, 1024, 1024, { reps: 3, warmup: i === 0 ? 2 : 0 }));
  return {
    cores, ghz, isa: v.isa, lanes: v.lanes, fmaPipes: v.fmaPipes, peakGflops,
    formula: `${cores} cores × ${v.lanes} lanes (${v.isa}) × ${fmaFactor} (FMA) × ${v.fmaPipes} pipes × ${ghz.toFixed(2)} GHz`,
    sgemmGflops,
    sgemmKernel: info.native.live ? `native sgemm (${info.native.isa}, ${info.native.threads} threads)` : `${info.name} matMul (${info.threads} thread)`,
  };
}

/** The lines bench train prints under its table: MFU of each row's model FLOP rate against both. */
export function formatMfu(peak: MachinePeak, rows: readonly { stage: number; model_gflops: number }[]): string {
  // /proc/cpuinfo gives the nominal clock (a VM has no cpufreq to read the boost from).
  const boost = peak.sgemmGflops > peak.peakGflops
    ? [`  (the measured sgemm exceeds the peak at the clock /proc/cpuinfo reports: the cores boost to about ${(peak.ghz * peak.sgemmGflops / peak.peakGflops).toFixed(2)} GHz or more)`]
    : [];
  return [
    `machine peak: ${peak.formula} = ${peak.peakGflops.toFixed(0)} GFLOP/s; best sgemm measured (1024³, ${peak.sgemmKernel}): ${peak.sgemmGflops.toFixed(1)} GFLOP/s`,
    ...boost,
    ...rows.map((r) => `stage ${r.stage}: ${r.model_gflops.toFixed(2)} model GFLOP/s = MFU ${(100 * r.model_gflops / peak.peakGflops).toFixed(1)}% of peak, ${(100 * r.model_gflops / peak.sgemmGflops).toFixed(1)}% of the measured sgemm`),
  ].join('\n');
}
