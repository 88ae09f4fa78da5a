/**
 * A checkpoint's model → one llama GGUF file that llama.cpp runs: hyperparameters under llama.*,
 * the tokenizer under tokenizer.ggml.* (gguf_tokenizer.ts), the 2-D weights in the chosen type
 * and the norms in F32 (as llama.cpp's own converter and quantizer do).
 */
import { InputError } from '../errors.ts';
import type { Tokenizer } from '../data/tokenizer/types.ts';
import { writeLlamaGguf } from '../inference/loaders/gguf/export.ts';
import { hfToGgufName } from '../inference/loaders/gguf/names.ts';
import { QK } from '../inference/loaders/gguf/quant.ts';
import type { GgufWriteType } from '../inference/loaders/gguf/writer.ts';
import type { HostTensor } from '../inference/loaders/types.ts';
import type { ModelConfig } from '../models/types.ts';
import { tokenizerToGgufKv } from './gguf_tokenizer.ts';
import { checkTarget } from './staging.ts';

export interface GgufExportInput {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly tokenizer: Tokenizer | null;
  /** general.name */
  readonly name: string;
}

/** Checks everything the file needs before any byte is written, then writes it atomically. */
export function writeGgufExport(out: string, m: GgufExportInput, type: GgufWriteType, overwrite: boolean): void {
  if (!out.endsWith('.gguf')) throw new InputError(`ds export: --out ${out} must end in .gguf for --format gguf (ds serve and llama.cpp tell the format by it)`);
  if (m.tokenizer === null) {
    throw new InputError(`ds export: ${m.name} has no tokenizer.json; a GGUF must carry its tokenizer (llama.cpp refuses a file without one)`);
  }
  if (type === 'Q8_0' || type === 'Q4_0') {
    for (const [name, t] of m.weights) {
      const row = t.shape.at(-1) ?? 0;
      if (t.shape.length === 2 && row % QK !== 0) {
        throw new InputError(
          `ds export: --quantize ${type.toLowerCase()} stores rows in blocks of ${QK}, but ${name} (${hfToGgufName(name)}) has rows of ${row} ` +
            `(shape [${t.shape.join(', ')}]); export without --quantize and run \`ds quantize OUT.gguf Q.gguf --type ${type.toLowerCase()}\`, ` +
            `which stores such tensors as F16 as llama-quantize does, or train with sizes that are multiples of ${QK}`,
        );
      }
    }
  }
  const tokenizer = tokenizerToGgufKv(m.tokenizer, m.config.vocabSize);
  checkTarget(out, overwrite);
  writeLlamaGguf(out, { config: m.config, weights: m.weights, tokenizer, type, name: m.name });
}
