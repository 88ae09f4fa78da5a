export { exportCheckpoint, planExport, FORMATS, DTYPES, QUANTS, type ExportArgs, type ExportPlan, type ExportResult } from './export.ts';
export { readFullWeights, type CheckpointModel } from './read.ts';
export { writeModelDir, type ModelDirInput, type ModelDirOptions } from './model_dir.ts';
export { writeGgufExport } from './gguf.ts';
export { tokenizerToGgufKv } from './gguf_tokenizer.ts';
