/**
 * The whole journey in one command: train → distill → quantize → export → serve → query.
 *
 *   npm run example:journey          (node --import ./bin/register.js examples/journey.ts [--teacher-steps N] [--student-steps N])
 *
 *   1. teacher: configs/distill_teacher.json5 with ZeRO-2, 2 ranks     (ds-launch … examples/train.ts)
 *   2. student: a quarter of the teacher, distilled from it            (ds-launch … examples/distill.ts)
 *   3. export: teacher and student as GGUF, the student also as Q8_0   (ds export)
 *   4. serve each file with ds serve and ask it the held-out problems through the `openai` client
 *
 * Ends with one row per model: parameters, size on disk, exact match as served, output tokens/s.
 * Every figure comes from the served GGUF, so the three rows are measured the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import JSON5 from 'json5';
import OpenAI from 'openai';
import { AdditionTask } from '../src/data/index.ts';
import { loadModel } from '../src/inference/loaders/index.ts';
import { InputError } from '../src/errors.ts';
import { log } from '../src/runtime/logger.ts';

const { values: args } = parseArgs({ options: { 'teacher-steps': { type: 'string' }, 'student-steps': { type: 'string' }, out: { type: 'string' }, samples: { type: 'string' } }, strict: true });
const out = resolve(args.out ?? 'runs/journey');
const samples = Number(args.samples ?? 300);
const ROOT = resolve(import.meta.dirname, '..');
mkdirSync(out, { recursive: true });

/** Runs a deepscale command in a child process, its output on this terminal (the progress bars included). */
function run(what: string, argv: string[]): Promise<void> {
  log.info(`\n=== ${what}\n$ node ${argv.join(' ')}`);
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, argv, { cwd: ROOT, stdio: 'inherit' });
    p.on('error', fail);
    p.on('exit', (code) => (code === 0 ? ok() : fail(new InputError(`${what} failed (exit code ${code}): see its output above`))));
  });
}

/** A copy of a shipped config with some keys replaced, written under `out`. */
function config(name: string, edit: (c: Record<string, any>) => void): string {
  const c = JSON5.parse(readFileSync(join(ROOT, 'configs', name), 'utf8')) as Record<string, any>;
  edit(c);
  const path = join(out, name.replace('.json5', '.json'));
  writeFileSync(path, JSON.stringify(c, null, 2));
  return path;
}

const teacherDir = join(out, 'teacher');
const studentDir = join(out, 'student');
const teacherCfg = config('distill_teacher.json5', (c) => {
  c.zero_optimization = { stage: 2 };
  c.train.out_dir = teacherDir;
  c.train.eval_samples = 200;
  if (args['teacher-steps']) c.train.steps = c.scheduler.params.total_num_steps = Number(args['teacher-steps']);
});
const studentCfg = config('distill.json5', (c) => {
  c.distillation.teacher = join(teacherDir, 'checkpoints');
  c.train.out_dir = studentDir;
  c.train.eval_samples = 200;
  if (args['student-steps']) c.train.steps = c.scheduler.params.total_num_steps = Number(args['student-steps']);
});

const t0 = performance.now();
await run('1/4 teacher: 4 layers, ZeRO-2 on 2 ranks', ['bin/ds-launch.js', '--num_procs', '2', '--master_port', '29611', '--config', teacherCfg, 'examples/train.ts']);
await run('2/4 student: 1 layer, distilled from the teacher', ['bin/ds-launch.js', '--config', studentCfg, 'examples/distill.ts']);
const files = {
  teacher: join(out, 'teacher.gguf'),
  student: join(out, 'student.gguf'),
  'student q8_0': join(out, 'student-q8_0.gguf'),
};
await run('3/4 export: teacher', ['bin/ds.js', 'export', '--checkpoint', join(teacherDir, 'checkpoints'), '--tag', 'final', '--format', 'gguf', '--out', files.teacher, '--force']);
await run('3/4 export: student', ['bin/ds.js', 'export', '--checkpoint', join(studentDir, 'checkpoints'), '--tag', 'final', '--format', 'gguf', '--out', files.student, '--force']);
await run('3/4 export: student, int8 (GGUF Q8_0)', ['bin/ds.js', 'export', '--checkpoint', join(studentDir, 'checkpoints'), '--tag', 'final', '--format', 'gguf', '--quantize', 'q8_0', '--out', files['student q8_0'], '--force']);

/** Starts ds serve on a file and waits for /health. */
async function serve(model: string, port: number): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['bin/ds.js', 'serve', '--model', model, '--port', String(port), '--max-num-seqs', '32'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 600; i++) {
    if (p.exitCode !== null) throw new InputError(`ds serve ${model} exited with code ${p.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) return p;
    await new Promise((r) => setTimeout(r, 200));
  }
  p.kill();
  throw new InputError(`ds serve ${model} did not become healthy in 120 s`);
}

const task = new AdditionTask({ digits: 2 });
const rows: string[][] = [];
let port = 18611;
for (const [name, file] of Object.entries(files)) {
  log.info(`\n=== 4/4 serve and query: ${name} (${file})`);
  const server = await serve(file, port);
  try {
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'none' });
    const model = (await client.models.list()).data[0]!.id;
    let outTokens = 0;
    const q0 = performance.now();
    // 16 requests in flight at a time: the server batches them (continuous batching).
    const acc = await task.evaluate(async (prompts) => {
      const answers: string[] = [];
      for (let i = 0; i < prompts.length; i += 16) {
        const part = await Promise.all(prompts.slice(i, i + 16).map(async (prompt) => {
          const r = await client.completions.create({ model, prompt, max_tokens: task.maxChars, temperature: 0 });
          outTokens += r.usage?.completion_tokens ?? 0;
          return r.choices[0]!.text;
        }));
        answers.push(...part);
      }
      return answers;
    }, samples, 987654321);
    const secs = (performance.now() - q0) / 1000;
    const loaded = loadModel(file);
    const params = [...loaded.weights.values()].reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    rows.push([name, params.toLocaleString('en-US'), `${(statSync(file).size / 1024).toFixed(0)} KiB`, `${(100 * acc).toFixed(1)}%`, (outTokens / secs).toFixed(0)]);
  } finally {
    server.kill('SIGTERM');
    port++;
  }
}

const head = ['model', 'parameters', 'GGUF on disk', `exact match (${samples}, served)`, 'output tok/s served'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
process.stdout.write(`\n${line(head)}\n${rows.map(line).join('\n')}\n\njourney done in ${((performance.now() - t0) / 1000).toFixed(0)} s; files in ${out}${existsSync(out) ? '' : ' (missing?)'}\n`);
