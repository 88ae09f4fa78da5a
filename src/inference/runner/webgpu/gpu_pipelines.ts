/// <reference types="@webgpu/types" />
/**
 * The compute pipelines of one runner (its sizes are constants of the shader text) and the
 * dispatch records a step replays: a pipeline, its bind group, and its grid for the step's
 * token count n, sampled-row count s and LM-head chunk rows.
 */
import type { ModelConfig } from '../../../models/types.ts';
import { attentionShader } from './wgsl/attention.ts';
import { getRowsShader, MATMUL_TM, matmulShader, type GpuWeightType } from './wgsl/matmul.ts';
import { biasAddShader, headNormShader, rmsNormShader, ropeKvShader, swigluShader, type OpSizes } from './wgsl/ops.ts';

export type Grid = (n: number, s: number, headRows: number) => [number, number, number];

export interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly grid: Grid;
}

const MAX_DIM = 65535;

/** A 1-D count of workgroups spread over x and y (each at most 65535). */
export function spread(count: number): [number, number] {
  if (count <= MAX_DIM) return [count, 1];
  return [MAX_DIM, Math.ceil(count / MAX_DIM)];
}

/** Grid of a product with `cols` output columns over `rows(n, s, headRows)` rows. */
export function matmulGrid(cols: number, mSel: 0 | 1 | 2): Grid {
  const [x, y] = spread(cols);
  return (n, s, hr) => [x, y, Math.ceil([n, s, hr][mSel]! / MATMUL_TM)];
}

export class GpuPipelines {
  readonly sizes: OpSizes;
  readonly rmsNorm: GPUComputePipeline;
  readonly ropeKv: GPUComputePipeline;
  readonly attention: GPUComputePipeline;
  readonly swiglu: GPUComputePipeline;
  readonly biasAdd: GPUComputePipeline;
  readonly headNorm: GPUComputePipeline;
  private readonly matmuls = new Map<GpuWeightType, GPUComputePipeline>();
  private readonly getRowsByType = new Map<GpuWeightType, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice, c: ModelConfig, blockSize: number, maxLen: number) {
    this.sizes = {
      D: c.hiddenSize, F: c.intermediateSize, H: c.numHeads, Hkv: c.numKvHeads, Dh: c.headDim,
      blockSize, maxLen, eps: c.rmsNormEps, adjacent: c.ropeStyle === 'adjacent',
    };
    this.rmsNorm = this.make('rmsnorm', rmsNormShader(this.sizes));
    this.ropeKv = this.make('rope_kv', ropeKvShader(this.sizes));
    this.attention = this.make('attention', attentionShader(this.sizes));
    this.swiglu = this.make('swiglu', swigluShader(this.sizes));
    this.biasAdd = this.make('bias_add', biasAddShader(this.sizes));
    this.headNorm = this.make('head_norm', headNormShader(this.sizes));
  }

  matmul(type: GpuWeightType): GPUComputePipeline {
    let p = this.matmuls.get(type);
    if (!p) this.matmuls.set(type, (p = this.make(`matmul_${type}`, matmulShader(type))));
    return p;
  }

  getRows(type: GpuWeightType): GPUComputePipeline {
    let p = this.getRowsByType.get(type);
    if (!p) this.getRowsByType.set(type, (p = this.make(`get_rows_${type}`, getRowsShader(type))));
    return p;
  }

  /** A bind group of `buffers` at bindings 0, 1, … of `pipeline`'s only group. */
  bind(pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
  }

  private make(label: string, code: string): GPUComputePipeline {
    const module = this.device.createShaderModule({ label, code });
    return this.device.createComputePipeline({ label, layout: 'auto', compute: { module, entryPoint: 'main' } });
  }
}
