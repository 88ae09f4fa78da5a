/** The architectures deepscale serves, by GGUF name and by HF class name. */
import { FormatError } from '../../../errors.ts';
import type { ModelConfig } from '../../../models/types.ts';
import { llama } from './llama.ts';
import { qwen2 } from './qwen2.ts';
import { phi3 } from './phi3.ts';
import { qwen3 } from './qwen3.ts';
import type { Architecture } from './types.ts';

export type { Architecture, ArchConfig, FusedNames, GgufFields, HfFields } from './types.ts';

export const ARCHITECTURES: readonly Architecture[] = [llama, qwen2, qwen3, phi3];

export { llama, phi3, qwen2, qwen3 };

/** The architecture a GGUF's general.architecture names; a FormatError naming it (and the supported ones) otherwise. */
export function archFromGguf(name: unknown, file: string): Architecture {
  const a = ARCHITECTURES.find((x) => x.name === name);
  if (!a) throw new FormatError(file, `general.architecture ${JSON.stringify(name)} is not supported (${ARCHITECTURES.map((x) => x.name).join(', ')})`);
  return a;
}

/** The architecture of config.json's `architectures` (one entry). */
export function archFromHf(architectures: unknown, file: string): Architecture {
  const first = Array.isArray(architectures) && architectures.length === 1 ? architectures[0] : undefined;
  const a = ARCHITECTURES.find((x) => x.hfArchitectures.includes(first as string));
  if (!a) {
    const known = ARCHITECTURES.flatMap((x) => x.hfArchitectures).join(', ');
    throw new FormatError(file, `architectures ${JSON.stringify(architectures)} is not supported (one of ${known})`);
  }
  return a;
}

/** The architecture that expresses `config` (by its extras), for export. */
export function archForConfig(config: ModelConfig): Architecture {
  const a = ARCHITECTURES.find((x) => x.check(config) === null);
  if (!a) throw new RangeError('archForConfig: no architecture has both q/k/v biases and q/k norms');
  return a;
}
