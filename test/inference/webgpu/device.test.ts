/** --device: auto never takes a software adapter; webgpu does; a bad name is refused; ds report lists what Dawn sees. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.ts';
import { chooseDevice, deviceReport } from '../../../src/inference/runner/device.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

describe('chooseDevice', () => {
  it('refuses a device that is not cpu, webgpu or auto, naming the option', async () => {
    await expect(chooseDevice('cuda')).rejects.toThrow(ConfigError);
    await expect(chooseDevice('cuda')).rejects.toThrow(/device: 'cuda' is not one of cpu, webgpu, auto/);
  });

  it('cpu is always the wasm runner', async () => {
    expect((await chooseDevice('cpu')).device).toBe('cpu');
  });

  it('auto takes a hardware adapter when there is one, and the cpu otherwise, saying why', async () => {
    const report = await deviceReport();
    const hardware = report.adapters.filter((a) => !a.software);
    const auto = await chooseDevice('auto');
    expect(auto.device).toBe(hardware.length > 0 ? 'webgpu' : 'cpu');
    if (hardware.length === 0) expect(auto.reason).toMatch(/^auto: no hardware WebGPU adapter \(.+\)/);
  });
});

describe.skipIf(gpuSkipReason !== null)(gpuTitle('WebGPU adapters'), () => {
  it('ds report lists each adapter with its kind and limits; a lavapipe/llvmpipe one is software', async () => {
    const report = await deviceReport();
    expect(report.reason).toBeNull();
    expect(report.adapters.length).toBeGreaterThan(0);
    for (const a of report.adapters) {
      expect(a.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20); // WebGPU's guaranteed minimum
      expect(a.maxBufferSize).toBeGreaterThanOrEqual(a.maxStorageBufferBindingSize);
      if (/llvmpipe|lavapipe/i.test(a.description)) expect(a.software).toBe(true);
    }
    if (report.adapters.every((a) => a.software)) expect(report.auto).toMatch(/^cpu \(the only WebGPU adapters are software ones/);
  });

  it('--device webgpu takes the adapter even when it is a software one', async () => {
    const choice = await chooseDevice('webgpu');
    expect(choice.device).toBe('webgpu');
    expect(choice.reason).toMatch(/(software|hardware) adapter /);
  });
});
