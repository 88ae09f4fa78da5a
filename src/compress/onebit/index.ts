/** 1-bit Adam: the compressor, the compressed all-reduce, the optimizer and the stage that owns its communication. */
export { compressWithFeedback, decompressInto, packedBytes } from './sign_compressor.ts';
export { compressedAllReduce, newFeedbackErrors, chunkElemsFor, type FeedbackErrors } from './compressed_allreduce.ts';
export { OneBitAdam, type OneBitAdamParams } from './onebit_adam.ts';
export { OneBitStage, ONEBIT_BLOCK_ELEMS } from './onebit_stage.ts';
export { createOneBitStage } from './create.ts';
