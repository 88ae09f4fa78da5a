import { describe, expect, it } from 'vitest';
import { theoreticalBubble, trainSchedule, type Instruction } from '../../src/parallel/schedule.ts';
import { Topology } from '../../src/parallel/topology.ts';
import { ConfigError } from '../../src/errors.ts';

/**
 * Runs every stage's instruction list at once, as the executor would: a forward or backward takes
 * `cost` time units, a send is buffered (free), a receive waits for its message. Returns each
 * stage's finish time and busy time; throws on a deadlock (no stage can move).
 */
function simulate(P: number, M: number, cost = { forward: 1, backward: 1 }) {
  const lists = Array.from({ length: P }, (_, s) => trainSchedule({ microBatches: M, stages: P, stage: s }));
  const pc = new Array<number>(P).fill(0);
  const clock = new Array<number>(P).fill(0);
  const busy = new Array<number>(P).fill(0);
  const live = new Array<number>(P).fill(0);
  const peakLive = new Array<number>(P).fill(0);
  // message key → time it was sent
  const mail = new Map<string, number>();
  const done = () => pc.every((p, s) => p === lists[s]!.length);
  while (!done()) {
    let moved = false;
    for (let s = 0; s < P; s++) {
      const ins = lists[s]![pc[s]!] as Instruction | undefined;
      if (!ins) continue;
      const mb = 'microBatch' in ins ? ins.microBatch : -1;
      if (ins.kind === 'recvActivation' || ins.kind === 'recvGrad') {
        const key = `${ins.kind === 'recvActivation' ? 'act' : 'grad'}:${ins.kind === 'recvActivation' ? s - 1 : s + 1}->${s}:${mb}`;
        const at = mail.get(key);
        if (at === undefined) continue;
        mail.delete(key);
        clock[s] = Math.max(clock[s]!, at);
      } else if (ins.kind === 'sendActivation') mail.set(`act:${s}->${s + 1}:${mb}`, clock[s]!);
      else if (ins.kind === 'sendGrad') mail.set(`grad:${s}->${s - 1}:${mb}`, clock[s]!);
      else if (ins.kind === 'forward' || ins.kind === 'backward') {
        clock[s]! += cost[ins.kind];
        busy[s]! += cost[ins.kind];
        live[s]! += ins.kind === 'forward' ? 1 : -1;
        peakLive[s] = Math.max(peakLive[s]!, live[s]!);
      }
      pc[s]!++;
      moved = true;
    }
    if (!moved) throw new Error(`deadlock at ${pc.map((p, s) => `stage ${s}: ${JSON.stringify(lists[s]![p])}`).join('; ')}`);
  }
  expect(mail.size).toBe(0);
  return { finish: Math.max(...clock), busy, peakLive };
}

describe('1F1B schedule', () => {
  for (const [P, M] of [[1, 1], [1, 4], [2, 1], [2, 2], [2, 8], [3, 4], [4, 4], [4, 16], [5, 3]] as const) {
    it(`P=${P}, M=${M}: every micro-batch forward then backward once per stage, no deadlock, the ideal bubble`, () => {
      for (let s = 0; s < P; s++) {
        const list = trainSchedule({ microBatches: M, stages: P, stage: s });
        const f = list.filter((i) => i.kind === 'forward').map((i) => ('microBatch' in i ? i.microBatch : -1));
        const b = list.filter((i) => i.kind === 'backward').map((i) => ('microBatch' in i ? i.microBatch : -1));
        expect(f).toEqual([...Array(M).keys()]);
        expect(b).toEqual([...Array(M).keys()]);
        for (let mb = 0; mb < M; mb++) expect(list.findIndex((i) => i.kind === 'forward' && i.microBatch === mb)).toBeLessThan(list.findIndex((i) => i.kind === 'backward' && i.microBatch === mb));
        expect(list.slice(-3).map((i) => i.kind)).toEqual(['reduceTiedGrads', 'reduceGrads', 'optimizerStep']);
      }
      const sim = simulate(P, M);
      // Each stage computes 2M units; the step takes 2(M + P − 1): idle share (P − 1)/(M + P − 1).
      expect(sim.finish).toBe(2 * (M + P - 1));
      for (const b of sim.busy) expect(1 - b / sim.finish).toBeCloseTo(theoreticalBubble(M, P), 12);
      // 1F1B's memory bound: stage s holds at most min(P − s, M) micro-batches' activations.
      sim.peakLive.forEach((n, s) => expect(n).toBeLessThanOrEqual(Math.min(P - s, M)));
    });
  }

  it('does not deadlock when backward costs twice the forward', () => {
    expect(() => simulate(4, 6, { forward: 1, backward: 2 })).not.toThrow();
  });

  it('names a bad argument', () => {
    expect(() => trainSchedule({ microBatches: 0, stages: 2, stage: 0 })).toThrow(/microBatches must be a positive integer, got 0/);
    expect(() => trainSchedule({ microBatches: 2, stages: 2, stage: 2 })).toThrow(/stage 2 is outside \[0, 2\)/);
  });
});

describe('Topology (pipe × data × model, model fastest)', () => {
  const t = new Topology({ pipe: 2, data: 2, model: 2 });
  it('numbers ranks as DeepSpeed does', () => {
    expect(t.rankOf({ pipe: 1, data: 0, model: 1 })).toBe(5);
    expect(t.coordOf(6)).toEqual({ pipe: 1, data: 1, model: 0 });
    for (let r = 0; r < 8; r++) expect(t.rankOf(t.coordOf(r))).toBe(r);
  });
  it('gives each axis its groups', () => {
    expect(t.allGroups('model')).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
    expect(t.allGroups('data')).toEqual([[0, 2], [1, 3], [4, 6], [5, 7]]);
    expect(t.allGroups('pipe')).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(t.groupOf(3, 'pipe')).toEqual([3, 7]);
  });
  it('refuses a world that tp × pp does not divide, naming the numbers', () => {
    expect(() => Topology.fromWorld(6, 4, 1)).toThrow(ConfigError);
    expect(() => Topology.fromWorld(6, 2, 2)).toThrow(/world size 6 is not divisible by tensor parallel 2 × pipeline stages 2 = 4/);
    expect(Topology.fromWorld(8, 2, 2).data).toBe(2);
  });
});
