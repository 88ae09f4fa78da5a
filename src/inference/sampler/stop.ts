/**
 * When a sequence stops, and what text the client sees on the way. Per output token, in vLLM's order:
 *   min_tokens not reached → no stop of any kind (eos and stop ids are masked by the sampler too);
 *   eos (unless ignore_eos)          → 'stop', stopReason null, its text never shown;
 *   a stop_token_id                  → 'stop', stopReason = the id, its text shown only with
 *                                      include_stop_str_in_output;
 *   max_tokens or the context's end  → 'length';
 *   a stop string in the text        → 'stop', stopReason = the string, the text cut before it
 *                                      (or after it, with include_stop_str_in_output).
 * A stop string may span tokens ("…Hel" + "lo"), so while streaming the tail of the text that
 * could still become a stop string is held back: a client never sees part of a stop string.
 */
import { assert } from '../../errors.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import { IncrementalDetokenizer } from './detokenizer.ts';
import type { SamplingParams } from './params.ts';

export type FinishReason = 'stop' | 'length';

export interface StopStep {
  /** Text the client may see now (possibly ''). */
  readonly delta: string;
  /** Set on the token that ends the sequence. */
  readonly finishReason: FinishReason | null;
  /** The stop string or stop token id that ended it (vLLM's stop_reason); null for eos and length. */
  readonly stopReason: string | number | null;
}

/** Earliest stop string that has at least one character at or after `from` (ties: first listed). */
export function findStopString(text: string, stops: readonly string[], from: number): { index: number; stop: string } | null {
  let best: { index: number; stop: string } | null = null;
  for (const stop of stops) {
    const index = text.indexOf(stop, Math.max(0, from - stop.length + 1));
    if (index >= 0 && (best === null || index < best.index)) best = { index, stop };
  }
  return best;
}

/** Length of the longest suffix of text[from..] that is a proper prefix of some stop string. */
export function partialStopLength(text: string, stops: readonly string[], from: number): number {
  let hold = 0;
  for (const stop of stops) {
    for (let len = Math.min(stop.length - 1, text.length - from); len > hold; len--) {
      if (text.endsWith(stop.slice(0, len))) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

export interface SequenceStopperOptions {
  readonly tokenizer: Tokenizer;
  readonly params: SamplingParams;
  readonly eosTokenId: number | null;
  /** eos and the end-of-turn tokens: each ends the sequence like eos (default: eos alone). */
  readonly endTokenIds?: readonly number[];
  /** Tokens in the prompt, and the model's context length: the sequence ends at promptLen + output = maxModelLen. */
  readonly promptLen: number;
  readonly maxModelLen: number;
}

export class SequenceStopper {
  private readonly detok: IncrementalDetokenizer;
  private full = '';
  private sent = 0;
  private count = 0;
  private done: FinishReason | null = null;

  constructor(private readonly opts: SequenceStopperOptions) {
    this.detok = new IncrementalDetokenizer(opts.tokenizer, opts.params.skipSpecialTokens);
  }

  /** Output text so far, held-back tail included; the final text once finished. */
  get text(): string {
    return this.full;
  }

  get numTokens(): number {
    return this.count;
  }

  get finishReason(): FinishReason | null {
    return this.done;
  }

  /** Takes the next output token; returns what to stream and whether the sequence is finished. */
  append(tokenId: number): StopStep {
    const { params, eosTokenId, promptLen, maxModelLen } = this.opts;
    assert(this.done === null, () => `SequenceStopper.append: the sequence already finished (${this.done}) after ${this.count} tokens`);
    this.count++;
    const canStop = this.count >= params.minTokens;
    let finishReason: FinishReason | null = null;
    let stopReason: string | number | null = null;
    let showToken = true;
    if (canStop && !params.ignoreEos && (tokenId === eosTokenId || (this.opts.endTokenIds?.includes(tokenId) ?? false))) {
      finishReason = 'stop';
      showToken = false;
    } else if (canStop && params.stopTokenIds.includes(tokenId)) {
      finishReason = 'stop';
      stopReason = tokenId;
      showToken = params.includeStopStrInOutput;
    } else if ((params.maxTokens !== null && this.count >= params.maxTokens) || promptLen + this.count >= maxModelLen) {
      finishReason = 'length';
    }

    const before = this.full.length;
    if (showToken) this.full += this.detok.push(tokenId);
    if (finishReason !== null) this.full += this.detok.flush();

    if (canStop && params.stop.length > 0) {
      const hit = findStopString(this.full, params.stop, before);
      if (hit) {
        const end = params.includeStopStrInOutput ? hit.index + hit.stop.length : hit.index;
        assert(end >= this.sent, () => `SequenceStopper: stop string at ${hit.index} but ${this.sent} characters were already sent`);
        this.full = this.full.slice(0, end);
        finishReason = 'stop';
        stopReason = hit.stop;
      }
    }

    let visible = this.full.length;
    if (finishReason === null && !params.includeStopStrInOutput && params.stop.length > 0) {
      visible -= partialStopLength(this.full, params.stop, this.sent);
    }
    const delta = this.full.slice(this.sent, visible);
    this.sent = visible;
    this.done = finishReason;
    return { delta, finishReason, stopReason };
  }
}
