import * as tf from '@tensorflow/tfjs-core';
import { parseEinsum } from './einsum_equation.ts';

/**
 * The gradient of Einsum, which tfjs-core lacks on every backend. For out = einsum('A,B->O', a, b):
 *   da = einsum('O,B->A′', dy, b), A′ = the labels of A that O or B name;
 * labels only A has were summed in the forward, so da is broadcast back along them.
 * One operand: da = einsum('O->A′', dy), then the same broadcast.
 */
function operandGrad(dy: tf.Tensor, i: number, saved: tf.Tensor[], inputs: readonly string[], output: string): tf.Tensor {
  const mine = inputs[i]!;
  const other = inputs.length === 2 ? inputs[1 - i]! : '';
  const kept = [...mine].filter((l) => output.includes(l) || other.includes(l)).join('');
  const operands = other ? [dy, saved[1 - i]!] : [dy];
  let g = tf.einsum(`${other ? `${output},${other}` : output}->${kept}`, ...operands);
  if (kept.length < mine.length) {
    const x = saved[i]!;
    // [kept sizes] → [A's shape with 1 at each summed-away label] → broadcast to A's shape
    g = tf.broadcastTo(tf.reshape(g, [...mine].map((l, ax) => (kept.includes(l) ? x.shape[ax]! : 1))), x.shape);
  }
  return g;
}

export function registerEinsumGradient(): void {
  if (tf.getGradient('Einsum')) return;
  tf.registerGradient({
    kernelName: 'Einsum',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const { inputs, output } = parseEinsum((attrs as { equation: string }).equation, saved.map((t) => t.shape));
      const grads: Record<string, () => tf.Tensor> = {};
      inputs.forEach((_, i) => {
        grads[i] = () => operandGrad(dy as tf.Tensor, i, saved, inputs, output);
      });
      return grads;
    },
  });
}
