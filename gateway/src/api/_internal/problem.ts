import type { HTTPError } from 'h3'
import { ERRORS, isCarehubError } from '../../core/errors.js'

/**
 * The HTTP side of the error catalogue, in one place: every error leaves as RFC 9457
 * `application/problem+json` with the stable CAREHUB_ERR_* code and the request id, so a person
 * reporting a problem can quote one id that finds the log line.
 */
export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly code: string
  readonly requestId: string | undefined
  readonly issues?: unknown
  /** RFC 9110 §10.2.3: seconds a client should wait (429). */
  readonly retryAfterSeconds?: number
}

export function toProblem(error: HTTPError, requestId: string | undefined): Problem {
  const cause = error.cause
  if (isCarehubError(cause)) {
    return {
      type: `urn:carehub:error:${cause.code}`,
      title: ERRORS[cause.code].title,
      status: cause.httpStatus,
      // A 5xx detail is generic: internals stay in the log, found by requestId.
      detail: cause.httpStatus >= 500 ? 'The gateway could not complete the request; see its log for this request id.' : cause.message,
      code: cause.code,
      requestId,
      ...(typeof cause.details?.retryAfterSeconds === 'number' ? { retryAfterSeconds: cause.details.retryAfterSeconds } : {}),
    }
  }
  const status = error.status
  // Only a thrown non-HTTP error is "unhandled"; a deliberate HTTPError's message is meant for the client.
  const unhandled = error.unhandled === true
  const code =
    status === 404
      ? 'CAREHUB_ERR_NOT_FOUND'
      : status === 403
        ? 'CAREHUB_ERR_FORBIDDEN'
        : status === 501
          ? 'CAREHUB_ERR_NOT_IMPLEMENTED'
          : status < 500
            ? 'CAREHUB_ERR_VALIDATION'
            : 'CAREHUB_ERR_INTERNAL'
  const data = error.data as { issues?: unknown } | undefined
  return {
    type: `urn:carehub:error:${code}`,
    title: error.statusText || ERRORS[code].title,
    status,
    detail: unhandled ? 'The gateway could not complete the request; see its log for this request id.' : error.message,
    code,
    requestId,
    ...(data?.issues ? { issues: data.issues } : {}),
  }
}

export function problemResponse(problem: Problem): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: {
      'content-type': 'application/problem+json',
      ...(problem.requestId ? { 'x-request-id': problem.requestId } : {}),
      ...(problem.retryAfterSeconds ? { 'retry-after': String(problem.retryAfterSeconds) } : {}),
    },
  })
}
