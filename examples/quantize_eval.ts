/**
 * Exact match and size on disk of a trained checkpoint under post-training quantization, on the
 * built-in task it was trained on: float32, int8 per channel, int4 in groups of 32/64/128
 * (deepscale's packed files), and GGUF Q8_0 / Q4_0 (ds export). Each model is evaluated by the
 * training decoder on the weights as the quantized file holds them (dequantized: x̂ = s·(q − z)).
 *
 *   node --import ./bin/register.js examples/quantize_eval.ts --checkpoint runs/tiny/checkpoints [--tag final] [--samples 500] [--task addition|reversal]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/runtime/backend/index.ts';
import { readFullWeights } from '../src/export/read.ts';
import { exportCheckpoint } from '../src/export/export.ts';
import { loadModel } from '../src/inference/loaders/index.ts';
import type { HostTensor } from '../src/inference/loaders/types.ts';
import { writeSafetensors } from '../src/inference/loaders/safetensors/writer.ts';
import { buildLlama } from '../src/models/llama.ts';
import type { ModelConfig } from '../src/models/types.ts';
import { greedyGenerate } from '../src/runtime/engine/greedy.ts';
import { AdditionTask, ReversalTask, taskTokenizer, type Task } from '../src/data/index.ts';
import { dequantizeWeights, quantizeWeights, type PtqOptions } from '../src/compress/quantize/ptq.ts';
import { readPackedWeights, writePackedWeights } from '../src/compress/quantize/file.ts';
import { InputError } from '../src/errors.ts';
import { formatTable } from '../src/cli/table.ts';

const { values: a } = parseArgs({ options: { checkpoint: { type: 'string' }, tag: { type: 'string' }, samples: { type: 'string', default: '500' }, task: { type: 'string', default: 'addition' } } });
if (!a.checkpoint) throw new InputError('examples/quantize_eval.ts: pass --checkpoint DIR (a training checkpoint dir)');
await initBackend();
const tok = taskTokenizer();
const task: Task = a.task === 'reversal' ? new ReversalTask({}) : new AdditionTask({ digits: 2 });
const n = Number(a.samples);

/** Exact match of greedy answers with `weights` (the same held-out problems as examples/train.ts). */
async function exactMatch(config: ModelConfig, weights: ReadonlyMap<string, HostTensor>): Promise<number> {
  const model = buildLlama(config);
  const params = new Map<string, tf.Tensor>();
  for (const l of model.layers) for (const p of l.params) if (!params.has(p.name)) params.set(p.name, tf.tensor(weights.get(p.name)!.data, [...p.shape], 'float32'));
  try {
    return await task.evaluate(async (prompts) => greedyGenerate(model, params, prompts.map((p) => tok.encode(p, { addBos: true })), { maxNewTokens: task.maxChars, eosId: tok.special.eos }).map((o) => tok.decode(o)), n, 987654321);
  } finally {
    tf.dispose([...params.values()]);
  }
}

const ck = await readFullWeights(a.checkpoint, a.tag);
const dir = mkdtempSync(join(tmpdir(), 'ds-qeval-'));
const rows: { name: string; acc: number; bytes: number }[] = [];
/** Formats the checkpoint's shapes cannot hold, with the reason (printed under the table). */
const notes: string[] = [];
const unable = (name: string, e: unknown): void => {
  rows.push({ name: `${name} (see below)`, acc: NaN, bytes: NaN });
  notes.push(`${name}: ${(e as Error).message}`);
};
try {
  const f32 = join(dir, 'model.safetensors');
  writeSafetensors(f32, ck.weights);
  rows.push({ name: 'float32 (safetensors)', acc: await exactMatch(ck.config, ck.weights), bytes: statSync(f32).size });
  const ptq: [string, PtqOptions][] = [
    ['int8 per channel, symmetric', { scheme: 'int8' }],
    ['int8 per channel, asymmetric', { scheme: 'int8', symmetric: false }],
    ['int4 g32, symmetric', { scheme: 'int4', groupSize: 32 }],
    ['int4 g32, asymmetric', { scheme: 'int4', groupSize: 32, symmetric: false }],
    ['int4 g64, symmetric', { scheme: 'int4', groupSize: 64 }],
    ['int4 g128, symmetric', { scheme: 'int4', groupSize: 128 }],
  ];
  for (const [name, o] of ptq) {
    const path = join(dir, `${name.replace(/\W+/g, '_')}.safetensors`);
    let bytes: number;
    try {
      bytes = writePackedWeights(path, quantizeWeights(ck.weights, o));
    } catch (e) {
      unable(name, e);
      continue;
    }
    rows.push({ name, acc: await exactMatch(ck.config, dequantizeWeights(readPackedWeights(path))), bytes });
  }
  for (const q of ['q8_0', 'q4_0'] as const) {
    const out = join(dir, `model-${q}.gguf`);
    try {
      await exportCheckpoint({ checkpoint: a.checkpoint, tag: ck.tag, out, format: 'gguf', quantize: q });
    } catch (e) {
      unable(`GGUF ${q.toUpperCase()}`, e);
      continue;
    }
    // GGUF holds q/k permuted for llama.cpp's adjacent rope: evaluate with the file's own config.
    const gguf = loadModel(out);
    rows.push({ name: `GGUF ${q.toUpperCase()} (ds export)`, acc: await exactMatch(gguf.config, gguf.weights), bytes: statSync(out).size });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const base = rows[0]!;
console.log(`${ck.source}: ${[...ck.weights.values()].reduce((s, t) => s + t.data.length, 0)} parameters, exact match on ${n} held-out ${task.name} problems`);
console.log(formatTable(['weights', 'exact match', 'Δ vs float32 (points)', 'bytes on disk', 'size vs float32'], rows.map((r) => [
  r.name, Number.isNaN(r.acc) ? '-' : `${(100 * r.acc).toFixed(1)}%`, Number.isNaN(r.acc) ? '-' : (100 * (r.acc - base.acc)).toFixed(1),
  Number.isNaN(r.bytes) ? '-' : String(r.bytes), Number.isNaN(r.bytes) ? '-' : `${(r.bytes / base.bytes).toFixed(3)}×`,
])));
for (const note of notes) console.log(`not written: ${note}`);
