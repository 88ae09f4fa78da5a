import { describe, expect, it } from 'vitest';
import type { Tokenizer } from '../../../src/data/tokenizer/types.ts';
import { CharTokenizer } from '../../../src/data/tokenizer/index.ts';
import { IncrementalDetokenizer, makeSamplingParams, SequenceStopper, type SamplingParamsInput, type StopStep } from '../../../src/inference/sampler/index.ts';

/** A tokenizer whose tokens are given as raw byte strings, so a character can be split across tokens. */
function byteTokenizer(pieces: (string | Uint8Array)[], specials: string[] = ['<|eos|>']): Tokenizer {
  const enc = new TextEncoder();
  const all = [...specials.map((s) => enc.encode(s)), ...pieces.map((p) => (typeof p === 'string' ? enc.encode(p) : p))];
  const isSpecial = (id: number) => id < specials.length;
  return {
    vocabSize: all.length,
    special: { bos: null, eos: 0, pad: null },
    chatTemplate: null,
    encode: () => {
      throw new Error('not used');
    },
    decode: (ids, opts = {}) => {
      const bytes = ids.filter((id) => !(opts.skipSpecial && isSpecial(id))).flatMap((id) => [...all[id]!]);
      return new TextDecoder().decode(Uint8Array.from(bytes));
    },
    idToToken: (id) => (all[id] ? new TextDecoder().decode(all[id]) : undefined),
    tokenBytes: (id) => all[id]!,
  };
}

// ids: 0 <|eos|>, 1 "Say: ", 2 "Hel", 3 "lo", 4 " world", 5 F0 9F, 6 98 80 (😀 split), 7 "!", 8 "H"
const grin = new TextEncoder().encode('😀');
const tok = byteTokenizer(['Say: ', 'Hel', 'lo', ' world', grin.slice(0, 2), grin.slice(2), '!', 'H']);

function run(ids: number[], p: SamplingParamsInput, opts: { promptLen?: number; maxModelLen?: number } = {}) {
  const stopper = new SequenceStopper({ tokenizer: tok, params: makeSamplingParams(p), eosTokenId: 0, promptLen: opts.promptLen ?? 0, maxModelLen: opts.maxModelLen ?? 1000 });
  const steps: StopStep[] = [];
  for (const id of ids) {
    steps.push(stopper.append(id));
    if (stopper.finishReason !== null) break;
  }
  return { steps, deltas: steps.map((s) => s.delta), text: stopper.text, last: steps[steps.length - 1]!, stopper };
}

describe('IncrementalDetokenizer', () => {
  it('holds back a multi-byte character split across tokens until it is complete', () => {
    const d = new IncrementalDetokenizer(tok, true);
    expect([1, 5, 6, 7].map((id) => d.push(id))).toEqual(['Say: ', '', '😀', '!']);
  });

  it('a character left unfinished at the end comes out as U+FFFD; special tokens follow skip_special_tokens', () => {
    const d = new IncrementalDetokenizer(tok, true);
    expect([d.push(5), d.push(0), d.flush()]).toEqual(['', '', '\uFFFD']);
    expect(new IncrementalDetokenizer(tok, false).push(0)).toBe('<|eos|>');
  });

  it('concatenated pieces equal the tokenizer decode of the whole (char tokenizer)', () => {
    const ct = CharTokenizer.fromAlphabet('héllo wörld');
    const ids = ct.encode('wörld héllo');
    const d = new IncrementalDetokenizer(ct, true);
    expect(ids.map((id) => d.push(id)).join('') + d.flush()).toBe(ct.decode(ids));
  });
});

describe('SequenceStopper', () => {
  it('finds a stop string split across tokens ("…Hel" + "lo") and never streams part of it', () => {
    const r = run([1, 4, 2, 3, 4], { stop: ['Hello'] });
    expect(r.deltas).toEqual(['Say: ', ' world', '', '']);
    expect(r.text).toBe('Say:  world');
    expect(r.last).toMatchObject({ finishReason: 'stop', stopReason: 'Hello' });
  });

  it('include_stop_str_in_output keeps the stop string and holds nothing back', () => {
    const r = run([1, 2, 3, 4], { stop: ['Hello'], include_stop_str_in_output: true });
    expect(r.deltas).toEqual(['Say: ', 'Hel', 'lo']);
    expect(r.text).toBe('Say: Hello');
  });

  it('held-back text that does not become a stop string is released', () => {
    // "Hel" might start "Help"; " world" shows it does not
    const r = run([2, 4, 7], { stop: ['Help'], max_tokens: 3 });
    expect(r.deltas).toEqual(['', 'Hel world', '!']);
    expect(r.last.finishReason).toBe('length');
  });

  it('held-back text is flushed when the sequence ends for another reason', () => {
    const r = run([1, 8], { stop: ['Hello'], max_tokens: 2 });
    expect(r.deltas).toEqual(['Say: ', 'H']);
    expect(r.last).toMatchObject({ finishReason: 'length', stopReason: null });
  });

  it('decodes an emoji split across tokens', () => {
    const r = run([1, 5, 6, 7], { max_tokens: 4 });
    expect(r.deltas).toEqual(['Say: ', '', '😀', '!']);
  });

  it('eos stops without text; ignore_eos keeps going', () => {
    expect(run([1, 0, 7], {})).toMatchObject({ text: 'Say: ', last: { finishReason: 'stop', stopReason: null, delta: '' } });
    const r = run([1, 0, 7], { ignore_eos: true, max_tokens: 3 });
    expect(r.text).toBe('Say: !');
    expect(r.last.finishReason).toBe('length');
  });

  it('a stop token id stops with stopReason = the id; its text only with include_stop_str_in_output', () => {
    expect(run([1, 7, 4], { stop_token_ids: [7] })).toMatchObject({ text: 'Say: ', last: { finishReason: 'stop', stopReason: 7 } });
    expect(run([1, 7], { stop_token_ids: [7], include_stop_str_in_output: true }).text).toBe('Say: !');
  });

  it('nothing stops the sequence before min_tokens', () => {
    const r = run([1, 0, 2, 3, 7, 0], { min_tokens: 5, stop: ['Hello'] });
    // eos at token 2 and "Hello" ending at token 4 are both before min_tokens = 5
    expect(r.steps.length).toBe(6);
    expect(r.last).toMatchObject({ finishReason: 'stop', stopReason: null });
    expect(r.text).toBe('Say: Hello!');
  });

  it("'length' at max_tokens and at the end of the model's context", () => {
    expect(run([1, 7, 7, 7], { max_tokens: 2 }).steps.length).toBe(2);
    const r = run([7, 7, 7, 7], {}, { promptLen: 5, maxModelLen: 8 });
    expect(r.steps.length).toBe(3);
    expect(r.last.finishReason).toBe('length');
  });

  it('refuses tokens after the end', () => {
    const { stopper } = run([0], {});
    expect(() => stopper.append(7)).toThrow('already finished (stop) after 1 tokens');
  });
});
