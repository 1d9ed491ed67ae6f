import type { Harness } from './gateway-harness.js'
import { httpsJson } from './https-get.js'

/** A JSON call to the harness gateway's API over real TLS, with an optional bearer token. */
export function api(h: Harness, method: string, path: string, body?: unknown, token?: string) {
  return httpsJson(
    method,
    `https://127.0.0.1:${h.httpPort}${path}`,
    h.gateway.pki.ca.certPem,
    body,
    token ? { authorization: `Bearer ${token}` } : {},
  )
}

/** RFC 4648 base32 (no padding) back to bytes: the TOTP secret an authenticator app would read. */
export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const c of text) {
    value = (value << 5) | alphabet.indexOf(c)
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}
