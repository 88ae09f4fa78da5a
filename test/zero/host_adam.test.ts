/** ZeRO-Offload's Adam on host worker threads: the in-line AdamW's numbers, on SharedArrayBuffer views in place. */
import { describe, expect, it } from 'vitest';
import { HostAdam, sharedFloats } from '../../src/zero/offload/host_adam.ts';
import { createOptimizer } from '../../src/runtime/optim/index.ts';
import { seededFloats } from '../helpers/random.ts';
import { optimizer } from '../../src/runtime/config/blocks.ts';

describe('HostAdam', () => {
  it('steps on the workers to the bits of the in-line AdamW (decay per parameter, bias correction)', async () => {
    const n = 10_001;
    const segments = [{ name: 'a', offset: 0, numel: 6000 }, { name: 'b', offset: 6000, numel: 4001 }];
    const block = optimizer.parse({ type: 'AdamW', params: { lr: 1e-2, betas: [0.9, 0.99], weight_decay: 0.1 } });
    const inline = createOptimizer(block, n);
    const host = new HostAdam(block.params, true, n);
    const p1 = seededFloats(n, 1);
    const p2 = sharedFloats(n);
    p2.set(p1);
    const g = sharedFloats(n);
    for (let step = 0; step < 3; step++) {
      g.set(seededFloats(n, 10 + step));
      inline.step(p1, g.slice(), 1e-2, segments);
      await host.stepAsync(p2, g, 1e-2, segments);
    }
    expect(Buffer.from(p2.buffer).equals(Buffer.from(p1.buffer, p1.byteOffset, p1.byteLength))).toBe(true);
    expect(host.state().step).toBe(3);
  });

  it('refuses buffers that are not shared (the workers would update a copy)', async () => {
    const host = new HostAdam(optimizer.parse({ type: 'AdamW' }).params, true, 4);
    await expect(host.stepAsync(new Float32Array(4), sharedFloats(4), 1e-3, [])).rejects.toThrow(/SharedArrayBuffers/);
  });
});
