/** Fused training ops: native kernels with their own backward where the addon is live, tfjs compositions otherwise. */
export { fusedRmsNorm, rmsNormTf } from './rms_norm.ts';
export { fusedSwiGlu, swiGluTf } from './swiglu.ts';
export { fusedCrossEntropy, crossEntropyTf } from './cross_entropy.ts';
export { fusedCausalAttention, causalAttentionTf, type AttentionRope } from './attention.ts';
export { fusedLive } from './native.ts';
