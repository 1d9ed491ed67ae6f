import { HTTPError } from 'h3'

/**
 * The service's error catalogue (the gateway's pattern): a stable code per refusal, its HTTP status
 * in one place, answered as RFC 9457 problem+json.
 */
export const CLOUD_ERRORS = {
  CLOUD_ERR_VALIDATION: 400,
  CLOUD_ERR_UNAUTHENTICATED: 401,
  CLOUD_ERR_SIGNATURE: 401,
  CLOUD_ERR_TIMESTAMP: 401,
  CLOUD_ERR_FORBIDDEN: 403,
  CLOUD_ERR_NOT_FOUND: 404,
  CLOUD_ERR_CONFLICT: 409,
  CLOUD_ERR_REPLAY: 409,
  CLOUD_ERR_CODE_INVALID: 410,
  CLOUD_ERR_INTERNAL: 500,
  CLOUD_ERR_UNAVAILABLE: 503,
} as const

export type CloudErrorCode = keyof typeof CLOUD_ERRORS

export function cloudError(code: CloudErrorCode, message: string, data?: Record<string, unknown>): HTTPError {
  return new HTTPError({ status: CLOUD_ERRORS[code], message, data: { code, ...data } })
}

export function problemOf(error: HTTPError): Response {
  const data = (error.data ?? {}) as { code?: string; issues?: unknown }
  const status = error.status
  const code = data.code ?? (status === 404 ? 'CLOUD_ERR_NOT_FOUND' : status < 500 ? 'CLOUD_ERR_VALIDATION' : 'CLOUD_ERR_INTERNAL')
  const body = {
    type: `urn:carehub:cloud:${code}`,
    title: error.statusText || code,
    status,
    detail: error.unhandled ? 'The service could not complete the request; see its log.' : error.message,
    code,
    ...(data.issues ? { issues: data.issues } : {}),
  }
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json' } })
}
