import { InputError } from '../../../errors.ts';

/** An einsum equation with its operands' shapes checked: one string of labels per operand. */
export interface EinsumEquation {
  readonly inputs: readonly string[];
  readonly output: string;
  /** The size of every label. */
  readonly sizes: ReadonlyMap<string, number>;
}

/**
 * Parses 'ij,jk->ik' against the operands' shapes, with tfjs's limits: an arrow, one or two
 * operands, no '...', no label twice in one operand, output labels all named by an input.
 */
export function parseEinsum(equation: string, shapes: readonly (readonly number[])[]): EinsumEquation {
  const eq = equation.replace(/\s/g, '');
  const fail = (why: string): never => {
    throw new InputError(`einsum '${equation}' with shapes ${shapes.map((s) => `[${s.join(', ')}]`).join(', ')}: ${why}`);
  };
  const parts = eq.split('->');
  if (parts.length !== 2) fail('needs exactly one "->"');
  const [lhs, output] = parts as [string, string];
  if (eq.includes('...')) fail('the "..." notation is not supported');
  const inputs = lhs.split(',');
  if (inputs.length > 2) fail(`${inputs.length} operands; at most 2 are supported`);
  if (inputs.length !== shapes.length) fail(`the equation names ${inputs.length} operands, ${shapes.length} were given`);
  const sizes = new Map<string, number>();
  inputs.forEach((term, i) => {
    const shape = shapes[i]!;
    if (!/^[a-zA-Z]*$/.test(term)) fail(`operand ${i} subscripts '${term}' must be letters`);
    if (new Set(term).size !== term.length) fail(`operand ${i} repeats a label in '${term}' (diagonals are not supported)`);
    if (term.length !== shape.length) fail(`operand ${i} has ${term.length} labels '${term}' but rank ${shape.length}`);
    [...term].forEach((l, ax) => {
      const seen = sizes.get(l);
      if (seen !== undefined && seen !== shape[ax]) fail(`label '${l}' is ${seen} in one place and ${shape[ax]} at axis ${ax} of operand ${i}`);
      sizes.set(l, shape[ax]!);
    });
  });
  if (!/^[a-zA-Z]*$/.test(output) || new Set(output).size !== output.length) fail(`output subscripts '${output}' must be distinct letters`);
  for (const l of output) if (!sizes.has(l)) fail(`output label '${l}' is in no operand`);
  return { inputs, output, sizes };
}
