export { formatStepLine, formatDuration, formatLoss, formatLr, formatRate, formatSig, type StepLine } from './format.ts';
export { ProgressBar, type ProgressOptions, type ProgressStream, type ProgressUpdate } from './progress.ts';
export { MetricsLog, type MetricsFormat, type MetricsLogOptions } from './metrics_log.ts';
export { COLUMNS, type StepRecord } from './record.ts';
export { WallClock } from './wall_clock.ts';
