import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * TOTP, RFC 6238 (HOTP RFC 4226 over T = floor(unix time / 30 s)). Pure: time comes in.
 * - secret: 160 bits (RFC 4226 R6 recommends it), base32 for authenticator apps;
 * - 6 digits, HMAC-SHA1, 30 s: what every authenticator app defaults to (ASVS 6.5.5: ≤ 30 s);
 * - accepted: the current step and one step either side (RFC 6238 §5.2: "at most one time step is
 *   allowed as the network delay"); a step at or before the last accepted one is refused (§5.2:
 *   the verifier MUST NOT accept the second attempt of the OTP after the successful validation).
 */
export const STEP_SECONDS = 30
export const DIGITS = 6

export function newTotpSecret(): Buffer {
  return randomBytes(20)
}

/** HOTP value for a counter (RFC 4226 §5.3: dynamic truncation). */
export function hotp(secret: Buffer, counter: number, digits = DIGITS, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac(algorithm, secret).update(msg).digest()
  const offset = (mac[mac.length - 1] as number) & 0x0f
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits
  return String(binary).padStart(digits, '0')
}

export function stepAt(nowMs: number): number {
  return Math.floor(nowMs / 1000 / STEP_SECONDS)
}

export type TotpCheck = { readonly ok: true; readonly step: number } | { readonly ok: false; readonly reason: 'format' | 'wrong' | 'replayed' }

export function verifyTotp(secret: Buffer, code: string, nowMs: number, lastAcceptedStep: number | null): TotpCheck {
  if (!/^\d{6}$/.test(code)) return { ok: false, reason: 'format' }
  const current = stepAt(nowMs)
  let matched: number | null = null
  for (const step of [current - 1, current, current + 1]) {
    // Compare every candidate (constant time each) rather than stopping at the first match.
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(code))) matched = step
  }
  if (matched === null) return { ok: false, reason: 'wrong' }
  if (lastAcceptedStep !== null && matched <= lastAcceptedStep) return { ok: false, reason: 'replayed' }
  return { ok: true, step: matched }
}

/** RFC 4648 base32 (no padding), as authenticator apps expect in otpauth:// URIs. */
export function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}

/** Key URI format (Google Authenticator's, de facto standard), ready for a QR code. */
export function otpauthUri(secret: Buffer, account: string, issuer: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`
  return `otpauth://totp/${label}?secret=${base32(secret)}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${DIGITS}&period=${STEP_SECONDS}`
}
