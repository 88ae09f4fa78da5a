export { openArrowDataset, type ArrowDataset } from './dataset.ts';
export { prepareDataset, validationNote, type PrepareOptions } from './prepare.ts';
export { isValidationRow, RowSplitter } from './split.ts';
export { readManifest, MANIFEST_FORMAT, type DatasetManifest, type SplitManifest, type SplitName } from './manifest.ts';
export { readShard, writeShard, ShardWriter, type ShardInfo } from './shards.ts';
export { openTrainingData, TrainingData, type TokenBatch, type TrainingDataOptions, type TrainingDataState } from './loader.ts';
export { evaluateLoss, type EvaluateOptions, type EvaluateResult } from './evaluate.ts';
