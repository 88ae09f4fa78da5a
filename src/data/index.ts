export * from './tokenizer/index.ts';
export * from './tasks/index.ts';
export { Rng, hash32 } from './rng.ts';
export { DistributedSampler, type DistributedSamplerOptions } from './sampler.ts';
export * from './arrow/index.ts';
export { readCorpus, type CorpusDocument } from './corpus.ts';
