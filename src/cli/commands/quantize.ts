/** `ds quantize IN.gguf OUT.gguf --type q4_k_m`: a GGUF re-encoded to a llama-quantize preset. */
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../errors.ts';
import { QUANT_PRESETS, quantizeGgufFile, type QuantPreset } from '../../inference/loaders/gguf/quantize.ts';

interface Args {
  input: string;
  output: string;
  type: string;
}

export const quantizeCommand: CommandModule<object, Args> = {
  command: 'quantize <input> <output>',
  describe: 'quantize a GGUF (as llama-quantize): 2-D weights to the preset, norms stay F32',
  builder: (y: Argv) =>
    y
      .positional('input', { type: 'string', demandOption: true, describe: 'the GGUF to read' })
      .positional('output', { type: 'string', demandOption: true, describe: 'the GGUF to write' })
      .option('type', { type: 'string', demandOption: true, describe: QUANT_PRESETS.join(' | ') }) as unknown as Argv<Args>,
  handler: (a) => {
    const preset = a.type.toLowerCase();
    if (!(QUANT_PRESETS as readonly string[]).includes(preset)) throw new InputError(`ds quantize: --type ${a.type} is not one of ${QUANT_PRESETS.join(', ')}`);
    const t0 = performance.now();
    const r = quantizeGgufFile(a.input, a.output, preset as QuantPreset);
    const counts = new Map<string, number>();
    for (const t of r.tensors) counts.set(t.to, (counts.get(t.to) ?? 0) + 1);
    const mix = [...counts].map(([t, n]) => `${n} ${t}`).join(', ');
    const MiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    process.stdout.write(`quantized ${a.input} (${MiB(r.inBytes)}) to ${a.output} (${MiB(r.outBytes)}, ${preset}: ${mix} tensors) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  },
};
