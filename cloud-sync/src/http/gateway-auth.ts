import type { H3Event } from 'h3'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { CredentialBox } from '../crypto/credential-box.js'
import { cloudError } from './errors.js'
import { signaturesEqual, signRequest } from './signature.js'

export interface GatewayPrincipal {
  readonly gatewayId: string
  readonly homeId: number
  /** The current enrolment: the box's alert and outbox ids are counted within it. */
  readonly epoch: number
}

declare module 'h3' {
  interface H3EventContext {
    gateway?: GatewayPrincipal
  }
}

const TIMESTAMP = /^\d{9,11}$/
const SIGNATURE = /^sha256=[0-9a-f]{64}$/

/**
 * Who is calling: a gateway, by its signed request (signature.ts), checked against its secret, the
 * clock (± maxSkew both ways) and the replay table shared by every service instance (each signature
 * is accepted once while its timestamp is in the window). Each refusal names its reason.
 */
export async function authenticateGateway(
  event: H3Event,
  body: string,
  deps: { pool: Pool; box: CredentialBox; maxSkewMs: number; now: () => number },
): Promise<GatewayPrincipal> {
  const h = event.req.headers
  const gatewayId = h.get('x-gateway-id') ?? ''
  const ts = h.get('x-timestamp') ?? ''
  const signature = h.get('x-signature') ?? ''
  const nonce = h.get('x-nonce') ?? ''
  if (nonce && !/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw cloudError('CLOUD_ERR_SIGNATURE', 'X-Nonce must be 16–64 characters of [A-Za-z0-9_-]')
  if (!gatewayId)
    throw cloudError('CLOUD_ERR_UNAUTHENTICATED', 'X-Gateway-Id missing: sign requests with the gateway credential (carehub cloud enroll)')
  if (!TIMESTAMP.test(ts)) throw cloudError('CLOUD_ERR_TIMESTAMP', 'X-Timestamp must be the current Unix time in seconds')
  if (!SIGNATURE.test(signature)) throw cloudError('CLOUD_ERR_SIGNATURE', 'X-Signature must be "sha256=" and 64 hex digits')
  const [rows] = await deps.pool.query<RowDataPacket[]>('SELECT home_id, secret_enc, epoch, revoked_at FROM gateways WHERE id = ?', [gatewayId])
  const row = rows[0] as { home_id: number; secret_enc: Buffer; epoch: number; revoked_at: number | null } | undefined
  // The same answer for an unknown gateway and a wrong signature: nothing to learn by probing ids.
  if (!row || row.revoked_at !== null)
    throw cloudError('CLOUD_ERR_SIGNATURE', 'the signature does not match (unknown or revoked gateway, or wrong secret)')
  const url = new URL(event.req.url)
  const expected = signRequest(deps.box.open(row.secret_enc), ts, event.req.method, url.pathname + url.search, body, nonce)
  if (!signaturesEqual(expected, signature)) {
    throw cloudError('CLOUD_ERR_SIGNATURE', 'the signature does not match (unknown or revoked gateway, or wrong secret)')
  }
  const skew = Number(ts) * 1000 - deps.now()
  if (Math.abs(skew) > deps.maxSkewMs) {
    throw cloudError(
      'CLOUD_ERR_TIMESTAMP',
      `X-Timestamp is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'ahead of' : 'behind'} the service clock (at most ${deps.maxSkewMs / 1000} s): check the box's clock`,
    )
  }
  try {
    await deps.pool.query('INSERT INTO request_nonces (gateway_id, signature, expires_at) VALUES (?, ?, ?)', [
      gatewayId,
      signature.slice(7),
      Number(ts) * 1000 + deps.maxSkewMs,
    ])
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_DUP_ENTRY')
      throw cloudError('CLOUD_ERR_REPLAY', 'this request was already received (replayed signature)')
    throw err
  }
  return { gatewayId, homeId: row.home_id, epoch: Number(row.epoch) }
}
