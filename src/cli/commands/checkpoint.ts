/**
 * `ds checkpoint consolidate CKPT [--tag T] --out model.safetensors`: the full float32 weights of
 * a training checkpoint of any layout (pipeline stages, tensor-parallel slices, ZeRO shards:
 * DeepSpeed's zero_to_fp32.py), one
 * tensor per parameter under its HF name and shape, from the float32 master where weights were
 * stored in half.
 */
import { existsSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { FormatError, InputError } from '../../errors.ts';
import { consolidateCheckpoint } from '../../runtime/checkpoint/index.ts';
import { writeSafetensors } from '../../inference/loaders/safetensors/writer.ts';
import type { HostTensor } from '../../inference/loaders/types.ts';

interface Args { checkpoint: string; tag: string | undefined; out: string; force: boolean }

interface LayoutEntry { readonly name: string; readonly shape: readonly number[]; readonly offset: number }

/** The parameters of a consolidated checkpoint as named tensors (views into `params`). */
export function layoutTensors(params: Float32Array, layout: unknown, where: string): Map<string, HostTensor> {
  if (!Array.isArray(layout) || layout.length === 0) throw new FormatError(where, 'meta.layout is missing or empty: it should list each parameter (name, shape, offset)');
  const out = new Map<string, HostTensor>();
  for (const [i, e] of (layout as LayoutEntry[]).entries()) {
    const n = Array.isArray(e?.shape) ? e.shape.reduce((a, b) => a * b, 1) : NaN;
    if (typeof e?.name !== 'string' || !Number.isSafeInteger(e.offset) || !Number.isSafeInteger(n) || e.offset < 0 || e.offset + n > params.length)
      throw new FormatError(where, `meta.layout[${i}] is ${JSON.stringify(e)}: not a parameter inside the ${params.length} saved`);
    out.set(e.name, { shape: [...e.shape], data: params.subarray(e.offset, e.offset + n) });
  }
  return out;
}

const consolidate: CommandModule<object, Args> = {
  command: 'consolidate <checkpoint>',
  describe: 'write the full float32 weights of a (sharded) checkpoint as one safetensors file',
  builder: (y: Argv) =>
    y
      .positional('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory (the one holding `latest`)' })
      .option('tag', { type: 'string', describe: 'checkpoint tag (default: the one `latest` names)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output .safetensors file' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing output' }) as unknown as Argv<Args>,
  handler: async (a) => {
    if (!existsSync(a.checkpoint)) throw new InputError(`ds checkpoint consolidate: checkpoint directory ${a.checkpoint} does not exist`);
    if (existsSync(a.out) && !a.force) throw new InputError(`ds checkpoint consolidate: ${a.out} exists; pass --force to replace it`);
    const s = await consolidateCheckpoint(a.checkpoint, a.tag);
    const tensors = layoutTensors(s.params, s.layout, `${a.checkpoint}/${s.tag}/meta.json`);
    const g = s.savedGrid;
    const saved = `world size ${s.savedWorldSize}${g.pipe > 1 || g.model > 1 ? ` (pipe ${g.pipe} × data ${g.data} × tensor ${g.model})` : ''}, ZeRO stage ${s.savedStage}`;
    writeSafetensors(a.out, tensors, { format: 'pt', source: `deepscale checkpoint ${s.tag}, step ${s.step}, ${saved}` });
    process.stdout.write(`consolidated ${a.checkpoint} tag ${s.tag} (${saved}): ${s.params.length} float32 parameters in ${tensors.size} tensors → ${a.out}\n`);
  },
};

export const checkpointCommand: CommandModule = {
  command: 'checkpoint <action>',
  describe: 'checkpoint tools: consolidate',
  builder: (y) => y.command(consolidate).demandCommand(1),
  handler: () => {},
};
