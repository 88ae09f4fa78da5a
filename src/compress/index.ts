export { setupCompression, type CompressionSetup } from './setup.ts';
export { quantizeWeights, dequantizeWeights, ptqSpec, PTQ_SCHEMES, INT4_GROUPS, type PtqOptions, type PtqScheme, type PtqWeight } from './quantize/ptq.ts';
export { writePackedWeights, readPackedWeights } from './quantize/file.ts';
export { quantizeGroups, dequantizeGroups, fakeQuantize, type QuantSpec, type QuantizedGroups } from './quantize/formulas.ts';
export { distillationLoss } from './distill/kd_loss.ts';
export { loadTeacher, type Teacher } from './distill/teacher.ts';
