import { createPrivateKey, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CarehubError } from '../core/errors.js'
import type { SecretBox } from '../secrets/secret-box.js'
import { createFileExclusive, writeFileAtomic } from '../system/atomic-file.js'
import type { x509 } from './x509-keys.js'

/** The X.509 library is loaded only to create or issue (~100 ms of start-up saved on every warm start). */
const loadX509 = () => import('./x509-keys.js')

const DAY_MS = 86_400_000

export interface IssueRequest {
  readonly commonName: string
  readonly usage: 'server' | 'client'
  readonly subjectAltNames?: readonly { type: 'dns' | 'ip'; value: string }[]
  readonly validityDays: number
  readonly now: number
}

export interface IssuedCertificate {
  readonly certPem: string
  readonly keyPem: string
  readonly serial: string
  readonly fingerprintSha256: string
  readonly notBefore: number
  readonly notAfter: number
}

/**
 * The box's own certificate authority, created on first start: an EC P-256 root that signs the
 * server certificate (HTTPS and MQTT) and, from the broker issue on, each device's client
 * certificate. Its key is stored age-encrypted (`ca.key.age`); the certificate is public (`ca.crt`).
 */
export class LocalCa {
  readonly certPem: string
  readonly cert: X509Certificate
  readonly #keyPem: string

  private constructor(certPem: string, keyPem: string) {
    this.certPem = certPem
    this.cert = new X509Certificate(certPem)
    this.#keyPem = keyPem
  }

  /** "sha256:<hex>" of the CA certificate's DER, as advertised in mDNS TXT for pinning. */
  get fingerprint(): string {
    return `sha256:${this.cert.fingerprint256.replaceAll(':', '').toLowerCase()}`
  }

  static async loadOrCreate(opts: { dir: string; secrets: SecretBox; gatewayId: string; validityDays: number; now: number }): Promise<LocalCa> {
    const certPath = join(opts.dir, 'ca.crt')
    const keyPath = join(opts.dir, 'ca.key.age')
    const load = async () => {
      const ca = new LocalCa(readFileSync(certPath, 'utf8'), await opts.secrets.readFile(keyPath))
      if (!ca.cert.checkPrivateKey(createPrivateKey(ca.#keyPem))) throw new Error('ca.key.age does not belong to ca.crt')
      return ca
    }
    try {
      if (existsSync(certPath) || existsSync(keyPath)) {
        // Another process (the daemon, or `carehub device add`) may be between writing the key and the certificate.
        if (!existsSync(certPath) && !(await appears(certPath, 3000))) {
          throw new Error(`ca.key.age exists without ca.crt in ${opts.dir}; restore ca.crt from a backup (devices trust this CA)`)
        }
        if (!existsSync(keyPath))
          throw new Error(`ca.crt exists without ca.key.age in ${opts.dir}; restore the key from a backup (devices trust this CA)`)
        return await load()
      }
      const { crypto, EC_ALGORITHM, generateKeyPair, newSerialNumber, privateKeyToPem, x509 } = await loadX509()
      const keys = await generateKeyPair()
      const cert = await x509.X509CertificateGenerator.createSelfSigned(
        {
          serialNumber: newSerialNumber(),
          name: `CN=CareHub CA ${opts.gatewayId}, O=CareHub`,
          notBefore: new Date(opts.now - 5 * 60_000), // tolerate small clock skew on devices
          notAfter: new Date(opts.now + opts.validityDays * DAY_MS),
          keys,
          signingAlgorithm: EC_ALGORITHM,
          extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
          ],
        },
        crypto,
      )
      // The key is created exclusively: when the daemon and the CLI both create the CA at once, one
      // wins and the other loads the winner's (two CAs would leave a key that fits no certificate).
      // Key first: a crash between the two writes leaves a key without a cert, reported above.
      const keyPem = await privateKeyToPem(keys.privateKey)
      if (!createFileExclusive(keyPath, await opts.secrets.encrypt(keyPem), 0o600)) {
        if (!(await appears(certPath, 3000))) throw new Error(`another process created ca.key.age but no ca.crt in ${opts.dir}`)
        return await load()
      }
      writeFileAtomic(certPath, cert.toString('pem'), 0o644)
      return new LocalCa(cert.toString('pem'), keyPem)
    } catch (err) {
      if (err instanceof CarehubError) throw err
      throw new CarehubError('CAREHUB_ERR_PKI', `local CA in ${opts.dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    const { crypto, EC_ALGORITHM, generateKeyPair, newSerialNumber, privateKeyFromPem, privateKeyToPem, x509 } = await loadX509()
    const issuer = new x509.X509Certificate(this.certPem)
    const keys = await generateKeyPair()
    const serial = newSerialNumber()
    const notBefore = req.now - 5 * 60_000
    const notAfter = Math.min(req.now + req.validityDays * DAY_MS, Date.parse(this.cert.validTo))
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([req.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
      await x509.AuthorityKeyIdentifierExtension.create(issuer, false, crypto),
    ]
    if (req.subjectAltNames && req.subjectAltNames.length > 0) {
      extensions.push(new x509.SubjectAlternativeNameExtension(req.subjectAltNames.map((n) => ({ type: n.type, value: n.value }))))
    }
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial,
        subject: `CN=${req.commonName}`,
        issuer: issuer.subject,
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
        signingKey: await privateKeyFromPem(this.#keyPem),
        publicKey: keys.publicKey,
        signingAlgorithm: EC_ALGORITHM,
        extensions,
      },
      crypto,
    )
    const certPem = cert.toString('pem')
    const parsed = new X509Certificate(certPem)
    return {
      certPem,
      keyPem: await privateKeyToPem(keys.privateKey),
      serial: parsed.serialNumber.toLowerCase(),
      fingerprintSha256: parsed.fingerprint256.replaceAll(':', '').toLowerCase(),
      notBefore: Date.parse(parsed.validFrom),
      notAfter: Date.parse(parsed.validTo),
    }
  }
}

/** Wait (polling) for a file another process is about to write. */
async function appears(path: string, timeoutMs: number): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 50) {
    if (existsSync(path)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return existsSync(path)
}
