/**
 * The one place typed errors become HTTP responses, in OpenAI's error body:
 *   {"error": {"message", "type", "param", "code"}}
 * `code` is the HTTP status (as vLLM sends it); `type` is OpenAI's error type for that status.
 * A DeepscaleError that is not a request error (a broken engine) is a 500; a plain Error too,
 * with its message logged and not sent.
 */
import { DeepscaleError, InvalidRequestError } from '../../errors.ts';
import { log } from '../../runtime/logger.ts';

/** An HTTP-level refusal that is not about a request field: 401, 404, 405, 413, 429, 503. */
export class HttpError extends DeepscaleError {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super('http_error', message);
  }
}

export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { error: { message: string; type: string; param: string | null; code: number } };
}

const TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'invalid_request_error',
  405: 'invalid_request_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'service_unavailable',
};

function body(status: number, message: string, param: string | null): ErrorResponse['body'] {
  return { error: { message, type: TYPES[status] ?? 'internal_server_error', param, code: status } };
}

export function toErrorResponse(err: unknown): ErrorResponse {
  if (err instanceof InvalidRequestError) {
    return { status: err.status, headers: {}, body: body(err.status, err.message, err.param) };
  }
  if (err instanceof HttpError) return { status: err.status, headers: err.headers, body: body(err.status, err.message, null) };
  if (err instanceof DeepscaleError) {
    log.error(`server: ${err.name}: ${err.message}`);
    return { status: 500, headers: {}, body: body(500, err.message, null) };
  }
  log.error(`server: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return { status: 500, headers: {}, body: body(500, 'internal server error', null) };
}
