import type { Db } from './open.js'

export interface DeviceCertificate {
  readonly serial: string
  readonly deviceId: string
  readonly fingerprintSha256: string
  readonly notBefore: number
  readonly notAfter: number
  readonly issuedAt: number
  readonly revokedAt: number | null
  readonly revocationReason: string | null
}

interface Row {
  serial: string
  device_id: string
  fingerprint_sha256: string
  not_before: number
  not_after: number
  issued_at: number
  revoked_at: number | null
  revocation_reason: string | null
}

const toCert = (r: Row): DeviceCertificate => ({
  serial: r.serial,
  deviceId: r.device_id,
  fingerprintSha256: r.fingerprint_sha256,
  notBefore: r.not_before,
  notAfter: r.not_after,
  issuedAt: r.issued_at,
  revokedAt: r.revoked_at,
  revocationReason: r.revocation_reason,
})

export function recordCertificate(db: Db, c: Omit<DeviceCertificate, 'revokedAt' | 'revocationReason'>): void {
  db.prepare(
    `INSERT INTO device_certificates (serial, device_id, fingerprint_sha256, not_before, not_after, issued_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(c.serial, c.deviceId, c.fingerprintSha256, c.notBefore, c.notAfter, c.issuedAt)
}

export function certificateBySerial(db: Db, serial: string): DeviceCertificate | undefined {
  const row = db.prepare('SELECT * FROM device_certificates WHERE serial = ?').get(serial.toLowerCase()) as Row | undefined
  return row ? toCert(row) : undefined
}

export function certificatesOf(db: Db, deviceId: string): DeviceCertificate[] {
  return (db.prepare('SELECT * FROM device_certificates WHERE device_id = ? ORDER BY issued_at').all(deviceId) as Row[]).map(toCert)
}

/** Revoke every unrevoked certificate of a device; returns how many were revoked. */
export function revokeCertificatesOf(db: Db, deviceId: string, reason: string, now: number): number {
  return db
    .prepare('UPDATE device_certificates SET revoked_at = ?, revocation_reason = ? WHERE device_id = ? AND revoked_at IS NULL')
    .run(now, reason, deviceId).changes
}

/** All revoked serials with the time of revocation (for the CRL and for disconnecting clients). */
export function revokedCertificates(db: Db): Array<{ serial: string; revokedAt: number }> {
  return db
    .prepare('SELECT serial, revoked_at AS revokedAt FROM device_certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at')
    .all() as Array<{
    serial: string
    revokedAt: number
  }>
}

/** A cheap fingerprint of the revocation state: changes whenever a certificate is revoked. */
export function revocationVersion(db: Db): string {
  const r = db.prepare('SELECT count(*) AS n, coalesce(max(revoked_at), 0) AS at FROM device_certificates WHERE revoked_at IS NOT NULL').get() as {
    n: number
    at: number
  }
  return `${r.n}:${r.at}`
}
