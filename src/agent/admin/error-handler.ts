import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CaretakerError, ConfigError, describeError } from '../kit/errors.js';
import type { ListenerLimits } from '../kit/http-limits.js';

interface ErrorBody {
  error: string;
  message: string;
  issues?: unknown;
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error && typeof (err as FastifyError).code === 'string' && typeof (err as FastifyError).statusCode === 'number';
}

/** Short stable codes for the caller's mistakes that fastify itself detects. */
function fastifyCode(err: FastifyError): string {
  if (err.validation) return 'invalid_request';
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'body_too_large';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'invalid_json';
    case 'FST_ERR_BAD_URL':
      return 'bad_url';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'uri_too_long';
    default:
      return 'bad_request';
  }
}

/** The one place errors become `{error, message}` and a status; unknown errors are 500 and logged with their cause. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let status: number;
  let body: ErrorBody;
  if (err instanceof CaretakerError) {
    status = err.status;
    body = { error: err.code, message: err.message };
    if (err instanceof ConfigError) body.issues = err.issues;
  } else if (isFastifyError(err) && err.statusCode! >= 400 && err.statusCode! < 500) {
    status = err.statusCode!;
    body = { error: fastifyCode(err), message: err.message };
  } else if (err instanceof SyntaxError && (err as { statusCode?: number }).statusCode === 400) {
    status = 400;
    body = { error: 'invalid_json', message: err.message };
  } else {
    status = 500;
    body = { error: 'internal', message: 'internal error; see the agent log' };
    request.log.error({ err: describeError(err), url: request.url, method: request.method }, 'admin request failed');
  }
  return reply.status(status).type('application/json').send(body);
}

/**
 * What node's HTTP parser refuses before fastify sees a request (fastify's default answers
 * `{"error":"Bad Request","statusCode":400}`), in the same shape as every other error.
 */
export function clientErrorHandler(limits: ListenerLimits) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let status = 400;
    let body: ErrorBody = { error: 'bad_request', message: `malformed HTTP request (${err.code ?? err.message})` };
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      body = { error: 'request_timeout', message: `the request did not arrive in full within ${limits.requestTimeoutMs / 1000} s` };
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      body = { error: 'headers_too_large', message: `the request line and headers exceed ${limits.maxHeaderBytes / 1024} KiB` };
    }
    const text = JSON.stringify(body);
    // Nothing of an answer has gone out yet, or the status line would land in the middle of one.
    if (socket.writable && socket.bytesWritten === 0) {
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    }
    socket.destroy();
  };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
}
