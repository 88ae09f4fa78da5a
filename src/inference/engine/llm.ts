import type { LoadedModel } from '../loaders/types.ts';
import { loadModel } from '../loaders/index.ts';
import type { RunnerFactory } from '../runner/types.ts';
import type { SamplingParams } from '../sampler/params.ts';
import type { EngineConfigInput } from './config.ts';
import { LLMEngine } from './llm_engine.ts';
import type { RequestOutput } from './outputs.ts';

export interface LLMOptions extends EngineConfigInput {
  /** A model path (.gguf, model dir, safetensors) or a model already loaded. */
  readonly model: string | LoadedModel;
}

/** Offline generation, as vLLM's `LLM`: all prompts go in, the engine runs until every one is done. */
export class LLM {
  readonly engine: LLMEngine;
  private counter = 0;

  /** `engine`: one LLM.create made (on a chosen device); else a wasm engine is built here. */
  constructor(opts: LLMOptions, engine?: LLMEngine) {
    const { model, ...config } = opts;
    this.engine = engine ?? new LLMEngine(typeof model === 'string' ? loadModel(model) : model, config);
  }

  /** The same, with the runner `makeRunner` makes (a device from chooseDevice). */
  static async create(opts: LLMOptions, makeRunner?: RunnerFactory): Promise<LLM> {
    const { model, ...config } = opts;
    return new LLM(opts, await LLMEngine.create(typeof model === 'string' ? loadModel(model) : model, config, makeRunner));
  }

  /** One RequestOutput per prompt, in prompt order. `params` is one for all or one per prompt. */
  generate(prompts: string | readonly (string | readonly number[])[], params: SamplingParams | readonly SamplingParams[]): RequestOutput[] {
    const list = typeof prompts === 'string' ? [prompts] : prompts;
    const ids = list.map((p, i) => {
      const id = `offline-${this.counter++}`;
      this.engine.addRequest(id, p, Array.isArray(params) ? (params as SamplingParams[])[i]! : (params as SamplingParams));
      return id;
    });
    const done = new Map<string, RequestOutput>();
    while (this.engine.hasUnfinished()) {
      for (const o of this.engine.step()) if (o.finished) done.set(o.requestId, o);
    }
    return ids.map((id) => done.get(id)!);
  }

  dispose(): void {
    this.engine.dispose();
  }
}
