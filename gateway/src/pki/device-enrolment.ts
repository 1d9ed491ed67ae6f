import { DEVICE_ID } from '../broker/identity.js'
import { CarehubError } from '../core/errors.js'
import { certificateBySerial, certificatesOf, recordCertificate, revokeCertificatesOf } from '../store/device-certificates.js'
import { ensureDevice, getDevice } from '../store/devices.js'
import type { Db } from '../store/open.js'
import type { IssuedCertificate, LocalCa } from './local-ca.js'

export interface EnrolOptions {
  readonly validityDays: number
  readonly now: number
  /** Issue a new certificate for an already enrolled device and revoke its old ones (a re-flashed board). */
  readonly renew: boolean
}

/**
 * Enrol an MQTT device: register it and issue its client certificate (CN = device id, EC P-256,
 * EKU clientAuth), recording serial and fingerprint so the broker accepts only certificates this box
 * issued and can revoke them.
 */
export async function enrolDevice(db: Db, ca: LocalCa, deviceId: string, o: EnrolOptions): Promise<IssuedCertificate> {
  if (!DEVICE_ID.test(deviceId)) {
    throw new CarehubError(
      'CAREHUB_ERR_VALIDATION',
      `device id "${deviceId}": use 1–64 lowercase letters, digits, "_" or "-", starting with a letter or digit`,
    )
  }
  const existing = getDevice(db, deviceId)
  if (existing && existing.source !== 'mqtt') {
    throw new CarehubError(
      'CAREHUB_ERR_CONFLICT',
      `device "${deviceId}" exists as a ${existing.source} device; MQTT certificates are for mqtt devices only`,
    )
  }
  const active = certificatesOf(db, deviceId).filter((c) => c.revokedAt === null && c.notAfter > o.now)
  if (active.length > 0 && !o.renew) {
    throw new CarehubError(
      'CAREHUB_ERR_CONFLICT',
      `device "${deviceId}" already has a valid certificate; add --renew to issue a new one (the old one is revoked)`,
    )
  }
  const issued = await ca.issue({ commonName: deviceId, usage: 'client', validityDays: o.validityDays, now: o.now })
  db.transaction(() => {
    ensureDevice(db, { id: deviceId, source: 'mqtt' }, o.now)
    if (o.renew) revokeCertificatesOf(db, deviceId, 'superseded', o.now)
    if (certificateBySerial(db, issued.serial)) throw new CarehubError('CAREHUB_ERR_PKI', 'serial number collision; try again')
    recordCertificate(db, {
      serial: issued.serial,
      deviceId,
      fingerprintSha256: issued.fingerprintSha256,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      issuedAt: o.now,
    })
  }).immediate()
  return issued
}

/** Revoke every certificate of a device. The broker refuses it from then on and disconnects it (≤ 2 s). */
export function revokeDevice(db: Db, deviceId: string, now: number): number {
  if (!getDevice(db, deviceId)) throw new CarehubError('CAREHUB_ERR_NOT_FOUND', `no device "${deviceId}" (see carehub device list)`)
  return revokeCertificatesOf(db, deviceId, 'revoked', now)
}

/** The broker's check at connect: is this certificate one we issued to this device, and not revoked? */
export function certificateProblem(db: Db, serial: string, deviceId: string): string | null {
  const cert = certificateBySerial(db, serial)
  if (!cert) return `certificate serial ${serial} was not issued by this box (or the device was removed)`
  if (cert.deviceId !== deviceId) return `certificate serial ${serial} belongs to ${cert.deviceId}, not ${deviceId}`
  if (cert.revokedAt !== null) return `certificate of ${deviceId} was revoked at ${new Date(cert.revokedAt).toISOString()}`
  return null
}

/** For the loopback plain listener, which has no certificate to check: is the device enrolled and not revoked? */
export function hasValidCertificate(db: Db, deviceId: string, now: number): boolean {
  return certificatesOf(db, deviceId).some((c) => c.revokedAt === null && c.notAfter > now)
}
