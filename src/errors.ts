/**
 * The error hierarchy. A user's mistake (bad config, missing file, bad request) is a
 * DeepscaleError with a code; the CLI prints its message without a stack trace.
 * A broken invariant is a plain Error (assert) and keeps its stack.
 */
export class DeepscaleError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A config value is wrong; `path` is its JSON path, e.g. `optimizer.params.lr`. */
export class ConfigError extends DeepscaleError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('config_error', path ? `${path}: ${message}` : message);
    this.path = path;
  }
}

/** A collective or the rendezvous failed: timeout, a rank died, mismatched calls. */
export class CommError extends DeepscaleError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('comm_error', message, options);
  }
}

/** The launcher could not start or keep the ranks. */
export class LaunchError extends DeepscaleError {
  constructor(message: string) {
    super('launch_error', message);
  }
}

/** A file could not be read as what it claims to be (GGUF, safetensors, Arrow, tokenizer.json). */
export class FormatError extends DeepscaleError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('format_error', `${file}: ${message}`);
    this.file = file;
  }
}

/** A user input (file, corpus, argument) is missing or unusable. */
export class InputError extends DeepscaleError {
  constructor(message: string) {
    super('input_error', message);
  }
}

/** A request to the engine or server is invalid; `param` names the field (OpenAI's error body). */
export class InvalidRequestError extends DeepscaleError {
  readonly param: string | null;
  readonly status: number;
  constructor(message: string, param: string | null = null, status = 400) {
    super('invalid_request_error', message);
    this.param = param;
    this.status = status;
  }
}

/** Misuse of the KV block pool (freeing a free block, unknown sequence). Running out is `null`, not this. */
export class BlockPoolError extends DeepscaleError {
  constructor(message: string) {
    super('block_pool_error', message);
  }
}

/** Something asked for is not built yet; says so instead of pretending. */
export class NotImplementedError extends DeepscaleError {
  constructor(what: string) {
    super('not_implemented', `${what} is not implemented in this version of deepscale`);
  }
}

/** Broken invariant: a bug, not a user's mistake. */
export function assert(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${typeof message === 'function' ? message() : message}`);
}
