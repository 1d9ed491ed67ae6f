import { randomUUID } from 'node:crypto'

/** Facts of the ThinQ Connect PAT API (external-protocols §1a), in one place. */

const KIC = 'AU BD CN HK ID IN JP KH KR LA LK MM MY NP NZ PH SG TH TW VN'.split(' ')
const AIC = 'AG AR AW BB BO BR BS BZ CA CL CO CR CU DM DO EC GD GT GY HN HT JM KN LC MX NI PA PE PR PY SR SV TT US UY VC VE'.split(' ')

/** Region of an account's country (pyTQ country.py): Asia/Pacific kic, Americas aic, everyone else eic. */
export function regionOf(country: string): 'kic' | 'aic' | 'eic' {
  if (KIC.includes(country)) return 'kic'
  if (AIC.includes(country)) return 'aic'
  return 'eic'
}

/** Production base URL for a country ("OP" phase; the SDKs hard-wire it). */
export const baseUrlOf = (country: string) => `https://api-${regionOf(country)}.lgthinq.com`

/** x-message-id: URL-safe base64 of a UUIDv4's 16 bytes, no padding — 22 characters. */
export function messageId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url')
}

/**
 * What a ThinQ error code means for us. Codes are strings in LG's envelope; the HTTP status is not
 * reliable across codes (the spec confirms only a few), so we key on the code.
 */
export type ThinqFailure = 'auth' | 'rate' | 'offline' | 'unsupported' | 'refused' | 'transient' | 'request'

const AUTH = new Set(['1103', '1218', '1301', '1302', '1303', '1304', '1307', '1308', '1309'])
const RATE = new Set(['1306', '1305', '1312'])
const OFFLINE = new Set(['1222', '1223'])
const UNSUPPORTED = new Set(['1219', '1220', '1221', '1310', '2101', '2201', '2202', '2203'])
const REFUSED = new Set(['2205', '2207', '2301', '2302', '2303', '2304', '2305', '1102'])
const TRANSIENT = new Set(['0000', '2000', '2208', '2209', '2210', '2212', '2213', '2214'])

export function failureOf(code: string, status: number): ThinqFailure {
  if (AUTH.has(code)) return 'auth'
  if (RATE.has(code)) return 'rate'
  if (OFFLINE.has(code)) return 'offline'
  if (UNSUPPORTED.has(code)) return 'unsupported'
  if (REFUSED.has(code)) return 'refused'
  if (TRANSIENT.has(code) || status >= 500) return 'transient'
  return 'request'
}

export class ThinqError extends Error {
  readonly code: string
  readonly failure: ThinqFailure
  readonly status: number

  constructor(code: string, status: number, message: string) {
    super(`ThinQ ${code}: ${message}`)
    this.name = 'ThinqError'
    this.code = code
    this.status = status
    this.failure = failureOf(code, status)
  }
}
