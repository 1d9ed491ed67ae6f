/**
 * Wire-level pieces of the fake LG ThinQ Connect open API (PAT flavour): error codes and their HTTP
 * statuses, the response envelope, and the per-request header checks.
 *
 * Source of truth: /work/shared/specs/external-protocols.md §1a ("Required headers", "Response
 * envelope", "Error codes"). Where the spec leaves an HTTP status open we use LG's own error table
 * (a Korean "가전 API 에러 코드" page, which says its codes are the ThinQ Connect ones; found via code
 * search, repository not identified → [obs]). It agrees with every status the spec does confirm
 * (0000→500, 1000/1101–1104→400, 1201→404), so it is the best available guess for the rest.
 */
import type { IncomingHttpHeaders } from 'node:http'

interface ErrorDef {
  name: string
  message: string
  status: number
}

/**
 * code → pyTQ `ThinQAPIErrorCodes` name, default message, HTTP status.
 * Statuses marked [obs] come from the table above, not from the spec; override them per fake with
 * `startFakeThinq({ httpStatus: { '1306': 429 } })` if a test needs another mapping.
 */
export const THINQ_ERRORS: Readonly<Record<string, ErrorDef>> = {
  '0000': { name: 'UNKNOWN_ERROR', message: 'Unknown error', status: 500 }, // spec: confirmed
  '1000': { name: 'BAD_REQUEST', message: 'Bad request', status: 400 }, // spec: confirmed
  '1101': { name: 'MISSING_PARAMETERS', message: 'Missing parameters', status: 400 }, // spec: confirmed
  '1102': { name: 'UNACCEPTABLE_PARAMETERS', message: 'Unacceptable parameters', status: 400 }, // spec: confirmed
  // spec: 1103→400 is *confirmed* (…/common-response/). A 401 would be our guess, not LG's.
  '1103': { name: 'INVALID_TOKEN', message: 'Invalid token', status: 400 },
  '1104': { name: 'INVALID_MESSAGE_ID', message: 'Invalid message id', status: 400 }, // spec: confirmed
  '1205': { name: 'NOT_REGISTERED_DEVICE', message: 'Not registered device', status: 404 }, // [obs] 12xx → 404
  '1216': { name: 'INCORRECT_HEADER', message: 'Incorrect Header', status: 400 }, // [obs]
  '1218': { name: 'INVALID_TOKEN_AGAIN', message: 'Invalid token', status: 400 }, // [obs]
  '1222': { name: 'NOT_CONNECTED_DEVICE', message: 'Not connected device', status: 416 }, // [obs]; spec: unknown
  '1223': { name: 'INVALID_STATUS_DEVICE', message: 'Invalid status device', status: 416 }, // [obs]
  '1224': { name: 'INVALID_DEVICE_ID', message: 'Invalid device Id', status: 404 }, // [obs]
  '1301': { name: 'INVALID_SERVICE_KEY', message: 'Invalid service key', status: 401 }, // [obs]
  '1302': { name: 'NOT_FOUND_TOKEN', message: 'Not found token', status: 401 }, // [obs]
  '1304': { name: 'NOT_ACCEPTABLE_TERMS', message: 'Not acceptable terms', status: 401 }, // [obs]
  '1305': { name: 'NOT_ALLOWED_API', message: 'Not allowed api', status: 401 }, // [obs]
  // [obs] 401, not 429: LG answers quota exhaustion with an auth-range status. Spec: unknown.
  '1306': { name: 'EXCEEDED_API_CALLS', message: 'Exceeded API calls', status: 401 },
  '1307': { name: 'NOT_SUPPORTED_COUNTRY', message: 'Not supported country', status: 401 }, // spec [obs]: "4xx"
  '1308': { name: 'NO_CONTROL_AUTHORITY', message: 'No control authority', status: 401 }, // [obs]
  '1309': { name: 'NOT_ALLOWED_API_AGAIN', message: 'Not allowed api call', status: 401 }, // spec [obs]
  '1311': { name: 'BAD_REQUEST_FORMAT', message: 'Bad request format', status: 401 }, // [obs]
  '2000': { name: 'INTERNAL_SERVER_ERROR', message: 'Internal server error', status: 500 }, // [obs]
  '2201': { name: 'NOT_PROVIDED_FEATURE', message: 'Not provided feature', status: 503 }, // [obs]
  '2205': { name: 'INVALID_DEVICE_STATUS', message: 'Invalid device status', status: 400 }, // [obs]
  '2207': { name: 'INVALID_COMMAND_ERROR', message: 'Invalid command error', status: 400 }, // [obs]
  '2208': { name: 'FAIL_DEVICE_CONTROL', message: 'Fail device control', status: 400 }, // [obs]
  '2209': { name: 'DEVICE_RESPONSE_DELAY', message: 'Device response delay', status: 400 }, // [obs]
  '2210': { name: 'RETRY_REQUEST', message: 'Retry request', status: 400 }, // [obs]
  '2214': { name: 'FAIL_REQUEST', message: 'Fail Request', status: 400 }, // [obs]
  '2301': { name: 'COMMAND_NOT_SUPPORTED_IN_REMOTE_OFF', message: 'Command not supported in REMOTE OFF', status: 400 },
  '2302': { name: 'COMMAND_NOT_SUPPORTED_IN_STATE', message: 'Command not supported in STATE', status: 400 },
  '2303': { name: 'COMMAND_NOT_SUPPORTED_IN_ERROR', message: 'Command not supported in ERROR', status: 400 },
  '2304': { name: 'COMMAND_NOT_SUPPORTED_IN_POWER_OFF', message: 'Command not supported in POWER OFF', status: 400 },
  '2305': { name: 'COMMAND_NOT_SUPPORTED_IN_MODE', message: 'Command not supported in MODE', status: 400 },
}

/** An error the fake answers with: `code` is a 4-digit string, as on the wire. */
export class ThinqApiError extends Error {
  readonly code: string
  readonly status: number | undefined
  constructor(code: string, message?: string, status?: number) {
    super(message ?? THINQ_ERRORS[code]?.message ?? 'Unknown error')
    this.code = code
    this.status = status
  }
}

/** HTTP status for a code: explicit override, then the table above, then by range (11xx 400, 12xx 404, 13xx 401, else 500). */
export function httpStatusOf(code: string, overrides: Readonly<Record<string, number>> = {}): number {
  const explicit = overrides[code] ?? THINQ_ERRORS[code]?.status
  if (explicit !== undefined) return explicit
  if (code.startsWith('11')) return 400
  if (code.startsWith('12')) return 404
  if (code.startsWith('13')) return 401
  return 500
}

/** LG's timestamp: ISO 8601, no zone, microseconds — e.g. '2024-09-01T06:23:20.866279' (OpenAPI `base-res`). */
export function thinqTimestamp(now: number): string {
  return `${new Date(now).toISOString().slice(0, 23)}000`
}

export function successEnvelope(messageId: string, now: number, response: unknown): object {
  return { messageId, timestamp: thinqTimestamp(now), response }
}

export function errorEnvelope(messageId: string, now: number, code: string, message: string): object {
  return { messageId, timestamp: thinqTimestamp(now), error: { code, message } }
}

/**
 * `x-message-id`: URL-safe base64 of the 16 raw bytes of a UUIDv4, padding removed → exactly 22
 * chars (spec §1a table; LG OpenAPI: "The length is 22 characters"). Checked canonically: it must
 * decode to 16 bytes and re-encode to itself, which catches base64 of the UUID *string*, padded
 * or standard-alphabet forms. The UUID version nibble is not checked [unconfirmed whether LG does].
 */
export function isValidMessageId(value: string): boolean {
  if (!/^[A-Za-z0-9_-]{22}$/.test(value)) return false
  const bytes = Buffer.from(value, 'base64url')
  return bytes.length === 16 && bytes.toString('base64url') === value
}

export type ThinqRegion = 'kic' | 'aic' | 'eic'

// spec §1a "Base URL and region" (pyTQ `country.py`); every other country is eic.
const KIC = 'AU BD CN HK ID IN JP KH KR LA LK MM MY NP NZ PH SG TH TW VN'.split(' ')
const AIC = 'AG AR AW BB BO BR BS BZ CA CL CO CR CU DM DO EC GD GT GY HN HT JM KN LC MX NI PA PE PR PY SR SV TT US UY VC VE'.split(' ')

export function regionOf(country: string): ThinqRegion {
  if (KIC.includes(country)) return 'kic'
  if (AIC.includes(country)) return 'aic'
  return 'eic'
}

export interface HeaderPolicy {
  token: string
  tokenRevoked: boolean
  apiKey: string
  country: string
  isControl: boolean
  requireConditionalControl: boolean
}

const one = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/**
 * Checks one request's headers like the real service (spec §1a "Required headers") and throws the
 * matching `ThinqApiError`. The order of checks is ours; LG's is not documented.
 */
export function validateHeaders(h: IncomingHttpHeaders, p: HeaderPolicy): void {
  // A missing id is answered like a malformed one (1104) [assumption; 1101 would also be plausible].
  const messageId = one(h, 'x-message-id')
  if (messageId === undefined || !isValidMessageId(messageId)) throw new ThinqApiError('1104')

  // Unknown, malformed and revoked PATs all give 1103 (HA's config flow maps 1103 to "invalid
  // token"). A revoked PAT might really give 1302 NOT_FOUND_TOKEN [unconfirmed].
  const auth = /^Bearer (\S+)$/.exec(one(h, 'authorization') ?? '')
  if (!auth || auth[1] !== p.token || p.tokenRevoked) throw new ThinqApiError('1103')

  // The PAT API's only key header is `x-api-key`; 1301 INVALID_SERVICE_KEY is the closest code in
  // the spec's table ("service key" is the partner API's name for the same thing) [assumption].
  if (one(h, 'x-api-key') !== p.apiKey) throw new ThinqApiError('1301')

  const country = one(h, 'x-country')
  if (country === undefined || !/^[A-Z]{2}$/.test(country)) throw new ThinqApiError('1216', 'Incorrect Header: x-country')
  // spec §1a: `{"error":{"message":"Not supported country","code":"1307"}}` [obs] HA#130777.
  if (country !== p.country) throw new ThinqApiError('1307')

  // Missing client id / phase → 1216 INCORRECT_HEADER [assumption]. LG's OpenAPI lists
  // x-service-phase only on `GET /route`; both SDKs always send `OP`, so we insist on it.
  if (!one(h, 'x-client-id')) throw new ThinqApiError('1216', 'Incorrect Header: x-client-id')
  if (one(h, 'x-service-phase') !== 'OP') throw new ThinqApiError('1216', 'Incorrect Header: x-service-phase')

  if (p.isControl) {
    // The SDKs always send `x-conditional-control: true` on control; LG's OpenAPI marks it optional
    // and its device-profile guide tells clients to send `false` for some AC/purifier commands.
    const cc = one(h, 'x-conditional-control')
    if (cc === undefined ? p.requireConditionalControl : cc !== 'true' && cc !== 'false') {
      throw new ThinqApiError('1216', 'Incorrect Header: x-conditional-control')
    }
  }
}
