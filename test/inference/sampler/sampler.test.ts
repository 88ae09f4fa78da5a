import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/data/rng.ts';
import { makeGenerator, makeSamplingParams, Sampler, SeedSource, type SamplerSeq, type SamplingParamsInput } from '../../../src/inference/sampler/index.ts';

function seq(p: SamplingParamsInput, prompt: number[] = [], output: number[] = [], seed = 1): SamplerSeq {
  return { params: makeSamplingParams(p), promptTokenIds: prompt, outputTokenIds: output, generator: new Rng(seed) };
}

function randomLogits(rng: Rng, n: number, spread = 4): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * spread);
}

/** Float64 softmax of x / t. */
function softmax(x: ArrayLike<number>, t = 1): number[] {
  const xs = Array.from(x, (v) => v / t);
  const m = Math.max(...xs);
  const e = xs.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** The set top_k → top_p → min_p keep, from the definitions over a full sort (float64). */
function keptSet(logits: Float32Array, t: number, topK: number, topP: number, minP: number): Set<number> {
  const p = softmax(logits, t);
  let order = p.map((_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
  if (topK > 0) order = order.slice(0, topK);
  const z = order.reduce((a, i) => a + p[i]!, 0);
  let mass = 0;
  const afterP: number[] = [];
  for (const i of order) {
    if (afterP.length > 0 && mass >= topP) break;
    afterP.push(i);
    mass += p[i]! / z;
  }
  const pmax = p[afterP[0]!]!;
  return new Set(afterP.filter((i) => p[i]! >= minP * pmax));
}

describe('logits processors against a float64 hand computation', () => {
  it('logit_bias, repetition, frequency and presence penalties', () => {
    const raw = Float32Array.from([1.5, -0.5, 2.0, -1.25, 0.75, 3.0]);
    const prompt = [0, 1, 1];
    const output = [3, 4, 4, 4];
    const s = seq({ logit_bias: { '5': -2, '1': 0.5 }, repetition_penalty: 1.25, frequency_penalty: 0.3, presence_penalty: 0.2 }, prompt, output);
    const got = new Sampler({ vocabSize: 6, eosTokenId: null }).processedLogits(raw, s);
    // by hand: bias → repetition on {0,1,3,4} → frequency/presence on output {3: 1, 4: 3}
    const x = Array.from(raw, Number);
    x[5] = x[5]! - 2;
    x[1] = x[1]! + 0.5;
    for (const t of [0, 1, 3, 4]) x[t] = x[t]! > 0 ? x[t]! / 1.25 : x[t]! * 1.25;
    x[3] = x[3]! - 0.3 * 1 - 0.2;
    x[4] = x[4]! - 0.3 * 3 - 0.2;
    for (let i = 0; i < 6; i++) expect(got[i]).toBeCloseTo(x[i]!, 12);
  });

  it('min_tokens masks eos and the stop token ids until enough tokens exist', () => {
    const raw = Float32Array.from([0, 5, 0, 4, 1]);
    const sampler = new Sampler({ vocabSize: 5, eosTokenId: 1 });
    const early = sampler.processedLogits(raw, seq({ min_tokens: 3, stop_token_ids: [3] }, [], [0, 2]));
    expect([early[1], early[3]]).toEqual([-Infinity, -Infinity]);
    const [tok] = sampler.sample(raw, [seq({ min_tokens: 3, stop_token_ids: [3], temperature: 0 }, [], [0, 2])]);
    expect(tok!.tokenId).toBe(4);
    const later = sampler.processedLogits(raw, seq({ min_tokens: 3, stop_token_ids: [3] }, [], [0, 2, 0]));
    expect([later[1], later[3]]).toEqual([5, 4]);
  });

  it('greedy takes the argmax of the processed logits, the lowest id on ties', () => {
    const sampler = new Sampler({ vocabSize: 5, eosTokenId: null });
    const raw = Float32Array.from([1, 3, 0, 3, 2]);
    expect(sampler.sample(raw, [seq({ temperature: 0 })])[0]!.tokenId).toBe(1);
    // repetition penalty 2 on token 1 (seen in the prompt): 3 → 1.5, so 3 wins
    expect(sampler.sample(raw, [seq({ temperature: 0, repetition_penalty: 2 }, [1])])[0]!.tokenId).toBe(3);
  });
});

describe('top_k / top_p / min_p keep exactly the right set, and sampling follows the renormalized distribution', () => {
  const configs: SamplingParamsInput[] = [
    { temperature: 1 },
    { temperature: 0.7, top_k: 5 },
    { temperature: 1.3, top_p: 0.6 },
    { temperature: 1, top_k: 10, top_p: 0.8 },
    { temperature: 0.9, min_p: 0.2 },
    { temperature: 1.1, top_p: 0.7, min_p: 0.1 },
    { temperature: 0.5, top_p: 0.3 },
    { temperature: 1, top_k: 12, top_p: 0.9, min_p: 0.05 },
  ];
  for (const cfg of configs) {
    it(JSON.stringify(cfg), () => {
      const rng = new Rng(JSON.stringify(cfg).length * 7919);
      const V = 40;
      const sampler = new Sampler({ vocabSize: V, eosTokenId: null });
      for (let trial = 0; trial < 2; trial++) {
        const logits = randomLogits(rng, V);
        const p = makeSamplingParams(cfg);
        const kept = keptSet(logits, p.temperature, p.topK, p.topP, p.minP);
        const probs = softmax(logits, p.temperature);
        const z = [...kept].reduce((a, i) => a + probs[i]!, 0);
        const counts = new Array<number>(V).fill(0);
        const N = 20000;
        const s: SamplerSeq = { params: p, promptTokenIds: [], outputTokenIds: [], generator: new Rng(trial + 99) };
        for (let n = 0; n < N; n++) counts[sampler.sample(logits, [s])[0]!.tokenId]!++;
        for (let i = 0; i < V; i++) {
          if (!kept.has(i)) {
            expect(counts[i], `token ${i} is outside the kept set`).toBe(0);
            continue;
          }
          const q = probs[i]! / z;
          // 5 standard deviations of a binomial frequency, plus a little slack
          expect(Math.abs(counts[i]! / N - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / N) + 1e-3);
        }
      }
    });
  }

  it('top_p over a flat 32k vocabulary (the cut bucket holds every token) keeps the right number of tokens', () => {
    const V = 32000;
    const logits = new Float32Array(V); // uniform: top_p 0.5 keeps the 16000 lowest ids
    const sampler = new Sampler({ vocabSize: V, eosTokenId: null });
    const s = seq({ top_p: 0.5 }, [], [], 5);
    let max = 0;
    for (let n = 0; n < 60; n++) max = Math.max(max, sampler.sample(logits, [s])[0]!.tokenId);
    expect(max).toBeLessThanOrEqual(16000); // 16000 tokens hold mass 0.5, up to rounding
    expect(max).toBeGreaterThan(14000);
  });
});

describe('per-request generators', () => {
  it('a seeded request samples the same tokens whatever else is in the batch', () => {
    const V = 64;
    const rng = new Rng(3);
    const steps = Array.from({ length: 8 }, () => randomLogits(rng, V * 3));
    const source = new SeedSource(0);
    const mine = makeSamplingParams({ seed: 1234, temperature: 0.8, top_p: 0.95 });
    const run = (others: number, at: number): number[] => {
      const sampler = new Sampler({ vocabSize: V, eosTokenId: null });
      const batch: SamplerSeq[] = Array.from({ length: others }, () => ({ params: makeSamplingParams({ temperature: 1.2 }), promptTokenIds: [], outputTokenIds: [], generator: makeGenerator(null, source) }));
      const me: SamplerSeq = { params: mine, promptTokenIds: [], outputTokenIds: [], generator: makeGenerator(mine.seed, source) };
      batch.splice(at, 0, me);
      return steps.map((logits3) => {
        // my row is always the first V logits of the step; the others get other rows
        const logits = new Float32Array(V * batch.length);
        batch.forEach((_, i) => logits.set(logits3.subarray(i === at ? 0 : V, i === at ? V : 2 * V), i * V));
        return sampler.sample(logits, batch)[at]!.tokenId;
      });
    };
    const alone = run(0, 0);
    expect(run(2, 1)).toEqual(alone);
    expect(run(3, 3)).toEqual(alone);
    expect(new Set(alone).size).toBeGreaterThan(1);
  });

  it('unseeded requests get different streams from one global seed', () => {
    const source = new SeedSource(7);
    const a = makeGenerator(null, source);
    const b = makeGenerator(null, source);
    expect(a.next()).not.toBe(b.next());
  });
});

describe('logprobs', () => {
  it('are the raw log-softmax (before penalties and temperature), with rank and top N', () => {
    const V = 30;
    const logits = randomLogits(new Rng(8), V);
    const s = seq({ logprobs: 4, temperature: 0.5, repetition_penalty: 1.5, logit_bias: { '0': 10 } }, [1, 2]);
    const [out] = new Sampler({ vocabSize: V, eosTokenId: null }).sample(logits, [s]);
    const ref = softmax(logits).map(Math.log);
    const lp = out!.logprobs!;
    expect(lp.logprob).toBeCloseTo(ref[out!.tokenId]!, 6);
    expect(lp.rank).toBe(1 + ref.filter((x) => x > ref[out!.tokenId]!).length);
    const best = ref.map((x, i) => [x, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 4);
    expect(lp.top.map((t) => t.id)).toEqual(best.map((b) => b[1]));
    lp.top.forEach((t, i) => expect(t.logprob).toBeCloseTo(best[i]![0], 6));
  });

  it('logprobs 0 gives only the sampled token; none asked gives null', () => {
    const logits = Float32Array.from([0, 1, 2]);
    const sampler = new Sampler({ vocabSize: 3, eosTokenId: null });
    const [a, b] = sampler.sample(new Float32Array([...logits, ...logits]), [seq({ logprobs: 0, temperature: 0 }), seq({ temperature: 0 })]);
    expect(a!.logprobs!.top).toEqual([]);
    expect(a!.logprobs!.logprob).toBeCloseTo(Math.log(softmax(logits)[2]!), 6);
    expect(b!.logprobs).toBeNull();
  });
});
