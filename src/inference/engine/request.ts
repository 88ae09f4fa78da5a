import type { Tokenizer } from '../../data/tokenizer/types.ts';
import type { SamplerRng } from '../sampler/generator.ts';
import type { SampleLogprobs } from '../sampler/logprobs.ts';
import type { SamplingParams } from '../sampler/params.ts';
import type { SampledToken } from '../sampler/sampler.ts';
import { SequenceStopper } from '../sampler/stop.ts';
import type { OutputFinishReason, RequestOutput } from './outputs.ts';

/** One of a request's n samples: its scheduler sequence, generator, stop checker and outputs so far. */
export class SampleState {
  readonly tokenIds: number[] = [];
  readonly logprobs: SampleLogprobs[] | null;
  cumulativeLogprob: number | null;
  text = '';
  finishReason: OutputFinishReason | null = null;
  stopReason: string | number | null = null;
  private readonly stopper: SequenceStopper;

  constructor(
    readonly index: number,
    readonly seqId: string,
    readonly generator: SamplerRng,
    opts: { tokenizer: Tokenizer; params: SamplingParams; eosTokenId: number | null; endTokenIds?: readonly number[]; promptLen: number; maxModelLen: number },
  ) {
    this.stopper = new SequenceStopper(opts);
    this.logprobs = opts.params.logprobs === null ? null : [];
    this.cumulativeLogprob = opts.params.logprobs === null ? null : 0;
  }

  /** Takes a sampled token; true when it ends this sample. */
  record(tok: SampledToken): boolean {
    this.tokenIds.push(tok.tokenId);
    if (this.logprobs && tok.logprobs) {
      this.logprobs.push(tok.logprobs);
      this.cumulativeLogprob = (this.cumulativeLogprob ?? 0) + tok.logprobs.logprob;
    }
    const step = this.stopper.append(tok.tokenId);
    this.text += step.delta;
    if (step.finishReason !== null) {
      this.finishReason = step.finishReason;
      this.stopReason = step.stopReason;
      this.text = this.stopper.text;
    }
    return step.finishReason !== null;
  }
}

/** A request in the engine: its prompt, params, samples and timings (seconds since the epoch). */
export class RequestState {
  readonly samples: SampleState[] = [];
  /** With params.promptLogprobs: entry p for prompt token p (0 stays null); filled as the prompt is computed. */
  private readonly promptLogprobs: (SampleLogprobs | null)[] | null;
  private promptLogprobsFilled = 0;
  firstScheduledTime: number | null = null;
  firstTokenTime: number | null = null;
  finishedTime: number | null = null;

  constructor(
    readonly requestId: string,
    readonly prompt: string | null,
    readonly promptTokenIds: readonly number[],
    readonly params: SamplingParams,
    readonly arrivalTime: number,
  ) {
    this.promptLogprobs = params.promptLogprobs === null ? null : Array.from({ length: promptTokenIds.length }, () => null);
  }

  /** Records prompt token p's logprobs (1 ≤ p < prompt length); a recomputed position overwrites. */
  recordPromptLogprob(p: number, lp: SampleLogprobs): void {
    if (!this.promptLogprobs) return;
    if (this.promptLogprobs[p] === null) this.promptLogprobsFilled++;
    this.promptLogprobs[p] = lp;
  }

  get finished(): boolean {
    return this.samples.length === this.params.n && this.samples.every((s) => s.finishReason !== null);
  }

  toOutput(): RequestOutput {
    return {
      requestId: this.requestId,
      prompt: this.prompt,
      promptTokenIds: this.promptTokenIds,
      outputs: this.samples.map((s) => ({
        index: s.index,
        text: s.text,
        tokenIds: [...s.tokenIds],
        cumulativeLogprob: s.cumulativeLogprob,
        logprobs: s.logprobs ? [...s.logprobs] : null,
        finishReason: s.finishReason,
        stopReason: s.stopReason,
      })),
      promptLogprobs: this.promptLogprobs && this.promptLogprobsFilled === this.promptTokenIds.length - 1 ? [...this.promptLogprobs] : null,
      finished: this.finished,
      metrics: { arrivalTime: this.arrivalTime, firstScheduledTime: this.firstScheduledTime, firstTokenTime: this.firstTokenTime, finishedTime: this.finishedTime },
    };
  }
}
