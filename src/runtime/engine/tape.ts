import * as tf from '@tensorflow/tfjs-core';
// tfjs's own backprop over a recorded tape (ESM dist file; see bin/tfjs_resolve_hook.js).
import { backpropagateGradients, getFilteredNodesXToY } from '@tensorflow/tfjs-core/dist/tape.js';

/**
 * Records one layer's forward on tfjs's gradient tape and keeps the tape, so the layer's
 * vector-Jacobian product can run later without recomputing the forward. tf.grads records and
 * backpropagates in one call, which forces a recompute per layer (a third more compute); this
 * splits the two halves, as a framework with a persistent autograd graph does.
 *
 * It drives tfjs's engine the way Engine.gradients does (startTape / endTape, the activeTape,
 * tape.ts's filter and backprop): internals that are stable across tfjs 4.x but not public API.
 */
interface TapeNode {
  saved?: tf.Tensor[];
}
interface EngineInternals {
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

export interface RecordedForward {
  readonly y: tf.Tensor;
  /** Gradients of y·dy with respect to xs; frees the tape. Call once. */
  backward(dy: tf.Tensor): tf.Tensor[];
  /** Frees the tape without a backward (e.g. after an error). */
  release(): void;
}

export function recordForward(xs: readonly tf.Tensor[], f: () => tf.Tensor): RecordedForward {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth !== 0) throw new Error('recordForward: cannot record inside another gradient computation');
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  const tape = engine.state.activeTape ?? [];
  engine.state.activeTape = null;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
  };
  return {
    y,
    release,
    backward(dy: tf.Tensor): tf.Tensor[] {
      if (released) throw new Error('recordForward: backward called twice');
      const filtered = getFilteredNodesXToY(tape as never, xs as tf.Tensor[], y);
      const grads = engine.tidy('backward', () => {
        const acc: Record<number, tf.Tensor> = { [y.id]: dy };
        backpropagateGradients(acc, filtered, ((g: () => tf.Tensor) => engine.tidy('grad', g)) as never, tf.add as never);
        return xs.map((x) => acc[x.id] ?? tf.zerosLike(x));
      });
      release();
      return grads;
    },
  };
}
