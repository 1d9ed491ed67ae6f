import { createHmac, timingSafeEqual } from 'node:crypto'

/** The outcome of checking an access token: its claims, or why it is refused. */
export type AccessTokenCheck =
  | { readonly ok: true; readonly claims: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly expired: boolean }

const SEGMENT = /^[A-Za-z0-9_-]+$/
const INVALID: AccessTokenCheck = { ok: false, expired: false }

/**
 * Verify one of our own access tokens (HS256 JWS compact serialisation, signed by jose at sign-in),
 * synchronously. jose verifies through WebCrypto, whose HMAC runs as a thread-pool job: every API
 * request then waits one more event-loop turn, and under saturated ingest a turn is tens of
 * milliseconds. The check is RFC 7519 §7.2 for the one algorithm we issue:
 * - the header must name HS256 and nothing else: no "none", no other algorithm (RFC 8725 §3.1), and
 *   no "crit" extension, since we understand none (RFC 7515 §4.1.11);
 * - the HMAC over the two first segments as sent, compared in constant time (RFC 7515 §5.2);
 * - then the claims: iss exactly ours, exp required and in the future, nbf if present not in the
 *   future (RFC 7519 §4.1.4-5, whole seconds, no leeway: as jose was configured).
 */
export function verifyAccessToken(token: string, key: Buffer, expected: { readonly issuer: string; readonly now: number }): AccessTokenCheck {
  // A clock that is not a number must not make every token look unexpired.
  if (!Number.isFinite(expected.now)) return INVALID
  const parts = token.split('.')
  if (parts.length !== 3) return INVALID
  const [header, payload, signature] = parts as [string, string, string]
  if (!SEGMENT.test(header) || !SEGMENT.test(payload) || !SEGMENT.test(signature)) return INVALID
  const head = parseObject(header)
  if (head === null || head.alg !== 'HS256' || 'crit' in head) return INVALID
  const mac = createHmac('sha256', key).update(`${header}.${payload}`).digest()
  const given = Buffer.from(signature, 'base64url')
  if (given.length !== mac.length || !timingSafeEqual(given, mac)) return INVALID
  const claims = parseObject(payload)
  if (claims === null || claims.iss !== expected.issuer) return INVALID
  const now = Math.floor(expected.now / 1000)
  if (typeof claims.exp !== 'number') return INVALID
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now)) return INVALID
  if (claims.iat !== undefined && typeof claims.iat !== 'number') return INVALID
  if (claims.exp <= now) return { ok: false, expired: true }
  return { ok: true, claims }
}

/**
 * Fatal, as jose's: ill-formed UTF-8 is refused, not replaced by U+FFFD (RFC 7515 §5.2 step 3,
 * RFC 7519 §7.2 step 10). A byte-order mark is kept, so JSON.parse refuses it (jose strips it).
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function parseObject(segment: string): Record<string, unknown> | null {
  // A length of 4k+1 is not base64url (RFC 4648 §5): Buffer would drop the last character silently.
  if (segment.length % 4 === 1) return null
  try {
    const value: unknown = JSON.parse(UTF8.decode(Buffer.from(segment, 'base64url')))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}
