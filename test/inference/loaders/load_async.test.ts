import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchModelConfig, writeRandomGguf } from '../../../src/inference/bench/random_model.ts';
import { loadGguf, loadModelAsync } from '../../../src/inference/loaders/index.ts';
import { countTurns } from '../../helpers/event_loop.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-load-async-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadModelAsync', () => {
  it('loads a .gguf to the same model as loadGguf while the event loop keeps turning', async () => {
    const file = join(dir, 'm.gguf');
    writeRandomGguf(file, benchModelConfig(), 3);
    const turns = countTurns();
    const m = await loadModelAsync(file);
    const n = turns.stop();
    const ref = loadGguf(file);
    // 4 layers × 9 tensors + embeddings, norm, head: the loop ran between tensors
    expect(n).toBeGreaterThanOrEqual(ref.weights.size - 1);
    expect(m.config).toEqual(ref.config);
    expect([...m.weights.keys()]).toEqual([...ref.weights.keys()]);
    // Bit-exact, compared as raw bytes: vitest's deep equality walks 6.6M floats one by one (seconds of CPU).
    for (const [name, t] of ref.weights) {
      const got = m.weights.get(name)!.data;
      expect(got.length, name).toBe(t.data.length);
      expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), name).toBe(true);
    }
    expect(m.tokenizer.encode('hello')).toEqual(ref.tokenizer.encode('hello'));
  });
});
