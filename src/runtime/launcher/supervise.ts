/**
 * Runs a set of processes as one job: each in its own process group (so killing the group
 * takes its children too), output copied line by line, and all-or-nothing failure — when one
 * exits non-zero or dies of a signal, the others get SIGTERM, then SIGKILL after a grace period.
 * SIGINT/SIGTERM/SIGHUP sent to the launcher are forwarded the same way (SIGHUP: the ssh
 * session of a remote node launcher went away).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { pipeLines } from './lines.ts';

export interface ProcSpec {
  /** Names the process in messages: `rank 1`, `host worker-0`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Line prefix for its output; null passes stdout/stderr through untouched (inherit). */
  readonly prefix: string | null;
}

export interface SuperviseOptions {
  /** How long SIGTERM'd processes get before SIGKILL. */
  readonly graceMs: number;
}

export interface SuperviseResult {
  /** 0 on success; the failing process's code, or 128+signal. */
  readonly exitCode: number;
  /** `rank 1 exited with code 3`, `rank 0 was killed by SIGKILL`, `stopped by SIGINT`; null on success. */
  readonly failure: string | null;
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const signalNumber = (sig: NodeJS.Signals): number => constants.signals[sig] ?? 1;

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // ESRCH: the whole group is already gone.
  }
}

/** Starts every spec and resolves once all have exited and their output is flushed. */
export function supervise(specs: readonly ProcSpec[], opts: SuperviseOptions): Promise<SuperviseResult> {
  const children: ChildProcess[] = [];
  let failure: string | null = null;
  let exitCode = 0;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;

  const stopAll = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children) killGroup(c, sig);
    killTimer = setTimeout(() => children.forEach((c) => killGroup(c, 'SIGKILL')), opts.graceMs);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (failure === null) {
      failure = `stopped by ${sig}`;
      exitCode = 128 + signalNumber(sig);
    }
    stopAll(sig);
  };
  // If the launcher itself dies with ranks still running, take them down synchronously.
  const onExit = (): void => children.forEach((c) => c.exitCode === null && c.signalCode === null && killGroup(c, 'SIGKILL'));
  const fail = (message: string, code: number): void => {
    if (stopping) return;
    failure = message;
    exitCode = code;
    stopAll('SIGTERM');
  };
  for (const sig of FORWARDED) process.on(sig, onSignal);
  process.on('exit', onExit);

  const done = specs.map((spec) => {
    const piped = spec.prefix !== null;
    const child = spawn(spec.command, [...spec.args], {
      env: spec.env,
      detached: true,
      stdio: ['ignore', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit'],
    });
    children.push(child);
    const flushed = piped && child.stdout && child.stderr
      ? Promise.all([pipeLines(child.stdout, process.stdout, spec.prefix ?? ''), pipeLines(child.stderr, process.stderr, spec.prefix ?? '')])
      : Promise.resolve();
    const exited = new Promise<void>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        fail(`${spec.name}: cannot start ${spec.command}: ${err.code ?? err.message}`, 127);
        resolve();
      });
      child.once('exit', (code, signal) => {
        if (signal !== null) fail(`${spec.name} was killed by ${signal}`, 128 + signalNumber(signal));
        else if (code !== 0) fail(`${spec.name} exited with code ${code}`, code ?? 1);
        resolve();
      });
    });
    return Promise.all([exited, flushed]);
  });

  return Promise.all(done).then(() => {
    clearTimeout(killTimer);
    for (const sig of FORWARDED) process.off(sig, onSignal);
    process.off('exit', onExit);
    return { exitCode, failure };
  });
}
