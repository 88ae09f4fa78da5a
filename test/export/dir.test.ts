/** ds export --format dir: the HF model dir reloads through loadModelDir bit for bit. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCheckpoint } from '../../src/export/index.ts';
import { loadModelDir } from '../../src/inference/loaders/model_dir.ts';
import { saveCheckpoint } from '../../src/runtime/checkpoint/index.ts';
import { saveTokenizer } from '../../src/data/tokenizer/index.ts';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from '../../src/inference/loaders/dtype.ts';
import { referenceForward } from '../helpers/reference_llama.ts';
import { exportModelConfig, readJson, sameBits, tmp, trainedCheckpoint, type Checkpoint } from './fixture.ts';

const t = tmp('ds-export-dir-');
let ck: Checkpoint;
beforeAll(async () => {
  ck = await trainedCheckpoint(join(t.dir, 'ckpt'), exportModelConfig({ tieWordEmbeddings: true }));
}, 120_000);
afterAll(() => t.cleanup());

const halfRound = (x: Float32Array, dtype: 'fp16' | 'bf16'): Float32Array =>
  dtype === 'fp16' ? decodeF16(encodeF16(x), 0, x.length) : decodeBf16(encodeBf16(x), 0, x.length);

describe('ds export --format dir', () => {
  it('writes the HF files, and loadModelDir gives back the checkpoint exactly', async () => {
    const out = join(t.dir, 'model');
    const r = await exportCheckpoint({ checkpoint: ck.dir, out, format: 'dir' });
    expect(readdirSync(out).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(r.parameters).toBe([...ck.params.values()].reduce((n, p) => n + p.length, 0));
    const hf = readJson(join(out, 'config.json')) as Record<string, unknown>;
    expect(hf).toMatchObject({ architectures: ['LlamaForCausalLM'], hidden_size: 64, num_key_value_heads: 2, tie_word_embeddings: true, torch_dtype: 'float32', vocab_size: 42 });
    expect(readJson(join(out, 'generation_config.json'))).toEqual({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });

    const m = loadModelDir(out);
    expect(m.config).toEqual(ck.config);
    expect([...m.weights.keys()].sort()).toEqual([...ck.params.keys()].sort());
    for (const [name, p] of ck.params) expect(sameBits(m.weights.get(name)!.data, p), name).toBe(true);
    for (const text of ['12+45=57', 'abc>cba']) expect(m.tokenizer.encode(text, { addBos: true })).toEqual(ck.tokenizer.encode(text, { addBos: true }));
  });

  it('takes a tag folder as --checkpoint too', async () => {
    const out = join(t.dir, 'model-from-tag');
    const r = await exportCheckpoint({ checkpoint: join(ck.dir, ck.tag), out, format: 'dir' });
    expect(r.tag).toBe(ck.tag);
    for (const [name, p] of ck.params) expect(sameBits(loadModelDir(out).weights.get(name)!.data, p), name).toBe(true);
  });

  it('shards past --max-shard-size with an index, and still reloads exactly', async () => {
    const out = join(t.dir, 'sharded');
    await exportCheckpoint({ checkpoint: ck.dir, out, format: 'dir', maxShardBytes: 40_000 });
    const files = readdirSync(out).filter((f) => f.endsWith('.safetensors'));
    expect(files.length).toBeGreaterThan(2);
    expect(files[0]).toBe(`model-00001-of-${String(files.length).padStart(5, '0')}.safetensors`);
    const index = readJson(join(out, 'model.safetensors.index.json')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    expect(Object.keys(index.weight_map).sort()).toEqual([...ck.params.keys()].sort());
    expect(index.metadata.total_size).toBe(4 * [...ck.params.values()].reduce((n, p) => n + p.length, 0));
    const m = loadModelDir(out);
    for (const [name, p] of ck.params) expect(sameBits(m.weights.get(name)!.data, p), name).toBe(true);
  });

  it.each(['fp16', 'bf16'] as const)('--dtype %s stores the checkpoint rounded to nearest even', async (dtype) => {
    const out = join(t.dir, `model-${dtype}`);
    await exportCheckpoint({ checkpoint: ck.dir, out, format: 'dir', dtype });
    expect((readJson(join(out, 'config.json')) as { torch_dtype: string }).torch_dtype).toBe(dtype === 'fp16' ? 'float16' : 'bfloat16');
    const m = loadModelDir(out);
    for (const [name, p] of ck.params) expect(sameBits(m.weights.get(name)!.data, halfRound(p, dtype)), name).toBe(true);
  });

  it('a model trained with adjacent-pair rope is written rotate-half: same logits', async () => {
    const config = exportModelConfig({ ropeStyle: 'adjacent', numLayers: 1 });
    const adj = await trainedCheckpoint(join(t.dir, 'ckpt-adj'), config, { steps: 1 });
    const out = join(t.dir, 'model-adj');
    await exportCheckpoint({ checkpoint: adj.dir, out, format: 'dir' });
    const m = loadModelDir(out);
    expect(m.config.ropeStyle).toBe('half');
    const ids = adj.tokenizer.encode('12+34=', { addBos: true });
    const want = referenceForward({ config, weights: new Map([...adj.params].map(([n, d]) => [n, { shape: [...adj.rt.engine.flat.segment(n).shape], data: d }])) }, ids);
    const got = referenceForward(m, ids);
    want.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - got[i]![j]!)).toBeLessThan(1e-9)));
  }, 30_000);

  it('a ZeRO checkpoint (each of 2 ranks holds a padded shard) exports the same model', async () => {
    const dir = join(t.dir, 'ckpt-zero');
    const full = new Float32Array([...ck.params.values()].flatMap((p) => [...p]));
    const saved = readJson(join(ck.dir, ck.tag, 'meta.json')) as { layout: unknown; model_config: unknown };
    const shardSize = Math.ceil(full.length / 2);
    const zero = { stage: 3, worldSize: 2, numel: full.length, shardSize, sharded: { params: true, optimizer: true } };
    for (const rank of [1, 0]) {
      const shard = new Float32Array(shardSize);
      shard.set(full.subarray(rank * shardSize, (rank + 1) * shardSize));
      await saveCheckpoint({ dir, tag: 'z', rank, worldSize: 2, files: { params: shard }, meta: { model_config: saved.model_config, layout: saved.layout, zero } });
    }
    saveTokenizer(ck.tokenizer, join(dir, 'z', 'tokenizer.json'), { writeConfig: true });
    const out = join(t.dir, 'model-zero');
    await exportCheckpoint({ checkpoint: dir, out, format: 'dir' });
    const m = loadModelDir(out);
    for (const [name, p] of ck.params) expect(sameBits(m.weights.get(name)!.data, p), name).toBe(true);
  });

  it('refuses an existing output, and --force replaces it whole', async () => {
    const out = join(t.dir, 'model');
    await expect(exportCheckpoint({ checkpoint: ck.dir, out, format: 'dir' })).rejects.toThrow(/already exists \(pass --force/);
    await exportCheckpoint({ checkpoint: ck.dir, out, format: 'dir', dtype: 'fp16', overwrite: true });
    expect((readJson(join(out, 'config.json')) as { torch_dtype: string }).torch_dtype).toBe('float16');
    expect(readdirSync(t.dir).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  });
});
