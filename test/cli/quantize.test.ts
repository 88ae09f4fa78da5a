/** ds quantize, as a user runs it: a GGUF in, a smaller GGUF of the preset's mix out, that loads with its blocks kept. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchModelConfig, writeRandomGguf } from '../../src/inference/bench/random_model.ts';
import { openGguf } from '../../src/inference/loaders/gguf/open.ts';
import { GGML_TYPE_NAMES } from '../../src/inference/loaders/gguf/constants.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-quantize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const input = join(dir, 'in.gguf');
writeRandomGguf(input, benchModelConfig({ hiddenSize: 256, intermediateSize: 512, numLayers: 8, numHeads: 4, numKvHeads: 4, headDim: 64 }), 1);
const ds = (...args: string[]) => execFileSync('node', ['bin/ds.js', 'quantize', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('ds quantize', () => {
  it('q4_k_m: Q6_K for the output head and llama.cpp\'s more-bits layers\' attn_v / ffn_down, Q4_K elsewhere, norms F32', () => {
    const out = join(dir, 'q4km.gguf');
    // 8 layers × 9 tensors + embedding, final norm, output: 49 Q4_K, 9 Q6_K (output, and attn_v + ffn_down of layers 0, 3, 6, 7), 17 F32 norms
    expect(ds(input, out, '--type', 'q4_k_m')).toMatch(/^quantized .*in\.gguf \(20\.5 MiB\) to .*q4km\.gguf \(3\.1 MiB, q4_k_m: 49 Q4_K, 17 F32, 9 Q6_K tensors\) in [\d.]+ s\n$/);
    const g = openGguf(out);
    const type = (name: string) => GGML_TYPE_NAMES[g.tensors.find((t) => t.name === name)!.type];
    expect(g.metadata.get('general.file_type')).toBe(15);
    expect(type('output.weight')).toBe('Q6_K');
    expect(type('blk.0.ffn_down.weight')).toBe('Q6_K'); // first eighth of 8 layers
    expect(type('blk.2.attn_v.weight')).toBe('Q4_K');
    expect(type('blk.3.attn_v.weight')).toBe('Q6_K'); // (3 − 1) % 3 = 2
    expect(type('blk.6.attn_v.weight')).toBe('Q6_K'); // (6 − 1) % 3 = 2
    expect(type('blk.7.ffn_down.weight')).toBe('Q6_K'); // last eighth
    expect(type('blk.1.ffn_gate.weight')).toBe('Q4_K');
    expect(type('blk.1.attn_norm.weight')).toBe('F32');
    // every other metadata entry is copied as it was
    const src = openGguf(input);
    for (const [k, v] of src.metadata) if (k !== 'general.file_type') expect(g.metadata.get(k), k).toEqual(v);
    expect(statSync(out).size).toBeLessThan(statSync(input).size / 5);
  });

  it('refuses an unknown --type, naming the presets', () => {
    expect(() => ds(input, join(dir, 'x.gguf'), '--type', 'q1_k')).toThrow(/--type q1_k is not one of f32, f16, bf16, q8_0, q4_0/);
  });
});
