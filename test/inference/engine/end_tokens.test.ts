/**
 * End-of-turn tokens end a sample like eos: a chat model whose eos is <|end_of_text|> answers up
 * to <|eot_id|>. The token is forced with logit_bias, so the test does not depend on what the
 * random model would say.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LLM } from '../../../src/inference/engine/index.ts';
import { endOfGenerationIds } from '../../../src/inference/engine/end_tokens.ts';
import { makeSamplingParams } from '../../../src/inference/sampler/index.ts';
import type { LoadedModel } from '../../../src/inference/loaders/types.ts';
import { tinyGguf } from './fixture.ts';

const fx = tinyGguf(4);
afterAll(() => fx.cleanup());
const EOT = 100;
/** The tiny model with token 100 renamed <|eot_id|> (its eos stays the tokenizer's own). */
const chatModel: LoadedModel = {
  ...fx.model,
  tokenizer: new Proxy(fx.model.tokenizer, {
    get(target, prop, receiver) {
      if (prop === 'idToToken') return (id: number) => (id === EOT ? '<|eot_id|>' : target.idToToken(id));
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }),
};
const prompt = [5, 6, 7];
const forced = (extra: object = {}) => makeSamplingParams({ max_tokens: 6, temperature: 0, logit_bias: { [EOT]: 100 }, ...extra });

describe('end-of-turn tokens', () => {
  it('are found by their text beside eos', () => {
    const ids = endOfGenerationIds(chatModel.tokenizer, chatModel.config.vocabSize, chatModel.tokenizer.special.eos);
    expect(ids).toContain(EOT);
    expect(endOfGenerationIds(fx.model.tokenizer, fx.model.config.vocabSize, null)).not.toContain(EOT);
  });

  it('end a sample at once, shown to nobody; a model without one runs to max_tokens', () => {
    const [chat] = new LLM({ model: chatModel, blockSize: 4, kvCacheMemory: '1MiB' }).generate([prompt], forced());
    expect(chat!.outputs[0]).toMatchObject({ finishReason: 'stop', text: '' });
    const [plain] = new LLM({ model: fx.model, blockSize: 4, kvCacheMemory: '1MiB' }).generate([prompt], forced());
    expect(plain!.outputs[0]!.finishReason).toBe('length');
    expect(plain!.outputs[0]!.tokenIds).toEqual(Array(6).fill(EOT));
  });

  it('min_tokens masks them; ignore_eos lets them through', () => {
    const llm = new LLM({ model: chatModel, blockSize: 4, kvCacheMemory: '1MiB' });
    const [min] = llm.generate([prompt], forced({ min_tokens: 3 }));
    expect(min!.outputs[0]!.tokenIds.slice(0, 3)).not.toContain(EOT);
    expect(min!.outputs[0]!.finishReason).toBe('stop');
    const [ign] = llm.generate([prompt], forced({ ignore_eos: true }));
    expect(ign!.outputs[0]!.finishReason).toBe('length');
  });
});
