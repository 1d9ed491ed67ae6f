import { createPrivateKey, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { SecretBox } from '../secrets/secret-box.js'
import { writeFileAtomic } from '../system/atomic-file.js'
import type { LocalCa } from './local-ca.js'
import { parseSubjectAltNames, type SubjectAltName, sanKey } from './server-names.js'

export interface ServerTls {
  readonly certPem: string
  readonly keyPem: string
  readonly notAfter: number
}

export interface EnsureServerCertOptions {
  readonly dir: string
  readonly ca: LocalCa
  readonly secrets: SecretBox
  readonly names: readonly SubjectAltName[]
  readonly commonName: string
  readonly validityDays: number
  readonly renewBeforeDays: number
  readonly now: number
  readonly log: Logger
}

/** Why the stored server certificate must be replaced, or null when it is still good. */
export function renewalReason(
  cert: X509Certificate,
  ca: LocalCa,
  names: readonly SubjectAltName[],
  renewBeforeMs: number,
  now: number,
): string | null {
  if (!cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) return 'not issued by the current CA'
  if (Date.parse(cert.validTo) - now < renewBeforeMs) return `expires ${cert.validTo}`
  const covered = parseSubjectAltNames(cert.subjectAltName)
  const missing = names.map(sanKey).filter((n) => !covered.has(n))
  return missing.length > 0 ? `does not cover ${missing.join(', ')}` : null
}

/**
 * The certificate HTTPS and MQTT present, issued by the box's CA. Re-issued when missing, close to
 * expiry, from another CA, or when the box gained a name or address (DHCP moved it): clients that
 * pinned the CA keep trusting it, so renewing costs them nothing.
 */
export async function ensureServerCertificate(o: EnsureServerCertOptions): Promise<ServerTls & { renewed: string | null }> {
  const certPath = join(o.dir, 'server.crt')
  const keyPath = join(o.dir, 'server.key.age')
  let reason: string | null = 'none yet'
  if (existsSync(certPath) && existsSync(keyPath)) {
    const certPem = readFileSync(certPath, 'utf8')
    const cert = parseCertificate(certPem)
    reason = cert ? renewalReason(cert, o.ca, o.names, o.renewBeforeDays * 86_400_000, o.now) : 'unreadable'
    if (cert && reason === null) {
      const keyPem = await o.secrets.readFile(keyPath)
      // The key is written before the certificate; a crash in between leaves a new key beside the old certificate.
      if (cert.checkPrivateKey(createPrivateKey(keyPem))) return { certPem, keyPem, notAfter: Date.parse(cert.validTo), renewed: null }
      reason = 'key does not match the certificate'
    }
  }
  const issued = await o.ca.issue({ commonName: o.commonName, usage: 'server', subjectAltNames: o.names, validityDays: o.validityDays, now: o.now })
  await o.secrets.writeFile(keyPath, issued.keyPem)
  writeFileAtomic(certPath, issued.certPem, 0o644)
  o.log.info({ reason, notAfter: new Date(issued.notAfter).toISOString(), names: o.names.length }, 'server certificate issued')
  return { certPem: issued.certPem, keyPem: issued.keyPem, notAfter: issued.notAfter, renewed: reason }
}

function parseCertificate(pem: string): X509Certificate | null {
  try {
    return new X509Certificate(pem)
  } catch {
    return null
  }
}
