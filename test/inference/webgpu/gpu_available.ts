/**
 * Whether this machine has a WebGPU adapter for the tests (a software one counts: lavapipe runs
 * them in CI, for correctness only). Where there is none the suites skip and say why, in their
 * name and on stderr; they never pass silently.
 */
import { pickAdapter } from '../../../src/inference/runner/webgpu/gpu.ts';

const picked = await pickAdapter(true);

/** null when the tests can run; else the reason they skip. */
export const gpuSkipReason: string | null = picked.adapter === null ? picked.reason : null;

if (gpuSkipReason) process.stderr.write(`WebGPU tests skipped: ${gpuSkipReason}\n`);

/** A suite title that carries the skip reason when there is one. */
export const gpuTitle = (title: string) => (gpuSkipReason ? `${title} [skipped: ${gpuSkipReason}]` : title);
