import { ConfigError } from '../../errors.ts';

export interface KvBudget {
  readonly budgetBytes: number;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Tokens per block (default 16). */
  readonly blockSize?: number;
  /** float32 = 4 (tfjs computes and stores K/V in float32). */
  readonly bytesPerElement?: number;
  /** When given, the budget must hold at least one sequence of this length. */
  readonly maxModelLen?: number;
}

/** Bytes one block takes over all layers: K and V, each [blockSize, numKvHeads, headDim]. */
export function bytesPerBlock(b: Omit<KvBudget, 'budgetBytes' | 'maxModelLen'>): number {
  const blockSize = b.blockSize ?? 16;
  const bytesPerElement = b.bytesPerElement ?? 4;
  return 2 * b.numLayers * blockSize * b.numKvHeads * b.headDim * bytesPerElement;
}

/** How many KV blocks a memory budget buys; an error if that is not one max-length sequence. */
export function blocksForBudget(b: KvBudget): number {
  const fields: [string, number | undefined][] = [
    ['budgetBytes', b.budgetBytes],
    ['numLayers', b.numLayers],
    ['numKvHeads', b.numKvHeads],
    ['headDim', b.headDim],
    ['blockSize', b.blockSize ?? 16],
    ['bytesPerElement', b.bytesPerElement ?? 4],
    ['maxModelLen', b.maxModelLen],
  ];
  for (const [name, v] of fields) {
    if (v === undefined) continue;
    if (!Number.isFinite(v) || v <= 0 || (name !== 'budgetBytes' && !Number.isInteger(v))) {
      throw new ConfigError('', `blocksForBudget: ${name} must be a positive ${name === 'budgetBytes' ? 'number' : 'integer'}, got ${v}`);
    }
  }
  const perBlock = bytesPerBlock(b);
  const numBlocks = Math.floor(b.budgetBytes / perBlock);
  if (b.maxModelLen !== undefined) {
    const blockSize = b.blockSize ?? 16;
    const needed = Math.ceil(b.maxModelLen / blockSize);
    if (numBlocks < needed) {
      throw new ConfigError(
        '',
        `one sequence needs ${needed} blocks for max_model_len=${b.maxModelLen} (${perBlock} bytes per block of ${blockSize} tokens), ` +
          `the KV cache budget ${b.budgetBytes} bytes gives only ${numBlocks}; raise --kv-cache-memory or lower --max-model-len`,
      );
    }
  }
  return numBlocks;
}
