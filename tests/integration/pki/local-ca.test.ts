import assert from 'node:assert/strict'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type IssuedCertificate, LocalCa } from '../../../gateway/src/pki/local-ca.js'
import { SecretBox } from '../../../gateway/src/secrets/secret-box.js'
import { carehubError } from '../../_support/carehub-error.js'
import { openssl, opensslText } from '../../_support/openssl.js'
import { tempDir } from '../../_support/temp.js'

const DAY_MS = 86_400_000
const SKEW_MS = 5 * 60_000
/** Whole seconds: X.509 times carry no milliseconds, so exact comparisons stay exact. */
const NOW = Math.floor(Date.now() / 1000) * 1000

const mode = (path: string) => statSync(path).mode & 0o777

async function freshCa(options: { validityDays?: number; gatewayId?: string; secrets?: SecretBox } = {}) {
  const dir = tempDir('carehub-pki-')
  const secrets = options.secrets ?? (await SecretBox.open(dir))
  const ca = await LocalCa.loadOrCreate({
    dir,
    secrets,
    gatewayId: options.gatewayId ?? 'gw-test',
    validityDays: options.validityDays ?? 3650,
    now: NOW,
  })
  return { dir, secrets, ca }
}

/** Write a certificate next to the CA and ask openssl (not node) whether the CA vouches for it. */
function opensslVerify(dir: string, certPem: string, purpose?: 'sslserver' | 'sslclient') {
  const leaf = join(dir, `leaf-${Math.random().toString(16).slice(2)}.crt`)
  writeFileSync(leaf, certPem)
  const r = openssl(['verify', ...(purpose ? ['-purpose', purpose] : []), '-CAfile', join(dir, 'ca.crt'), leaf])
  return { ok: r.status === 0 && r.stdout.trim() === `${leaf}: OK`, output: r.stdout + r.stderr }
}

/** The serial INTEGER's content octets, read from the DER (not from any library's formatting). */
function serialOctets(der: Buffer): Buffer {
  const tlv = (offset: number) => {
    const tag = der.readUInt8(offset)
    let length = der.readUInt8(offset + 1)
    let start = offset + 2
    if (length & 0x80) {
      const count = length & 0x7f
      length = 0
      for (let i = 0; i < count; i++) length = length * 256 + der.readUInt8(start + i)
      start += count
    }
    return { tag, start, end: start + length }
  }
  const certificate = tlv(0)
  assert.equal(certificate.tag, 0x30)
  const tbs = tlv(certificate.start)
  assert.equal(tbs.tag, 0x30)
  let field = tlv(tbs.start)
  if (field.tag === 0xa0) field = tlv(field.end) // explicit [0] version
  assert.equal(field.tag, 0x02, 'serialNumber is an INTEGER')
  return der.subarray(field.start, field.end)
}

const SERVER_NAMES = [
  { type: 'dns', value: 'localhost' },
  { type: 'dns', value: 'carehub-box.local' },
  { type: 'ip', value: '127.0.0.1' },
  { type: 'ip', value: '::1' },
] as const

describe('LocalCa.loadOrCreate', () => {
  test('creates a public ca.crt (0644) and an age-encrypted owner-only ca.key.age (0600)', async () => {
    const { dir, secrets, ca } = await freshCa()
    const certPath = join(dir, 'ca.crt')
    const keyPath = join(dir, 'ca.key.age')
    assert.equal(mode(certPath), 0o644)
    assert.equal(mode(keyPath), 0o600)
    assert.equal(readFileSync(certPath, 'utf8'), ca.certPem)
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key.age', 'identity.age'], 'no temporary files left behind')
    const keyFile = readFileSync(keyPath, 'utf8')
    assert.ok(keyFile.startsWith('-----BEGIN AGE ENCRYPTED FILE-----'), keyFile.slice(0, 40))
    assert.ok(!keyFile.includes('PRIVATE KEY'))
    // What is inside is the CA's own private key.
    const keyPem = await secrets.readFile(keyPath)
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/)
    assert.ok(new X509Certificate(ca.certPem).checkPrivateKey(createPrivateKey(keyPem)))
  })

  test('the CA is a self-signed EC P-256 root with CA:TRUE, pathlen 0 and cert-signing key usage', async () => {
    const { dir, ca } = await freshCa({ gatewayId: 'gw-42' })
    const cert = new X509Certificate(readFileSync(join(dir, 'ca.crt')))
    assert.equal(cert.ca, true)
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec')
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
    assert.equal(cert.subject, cert.issuer)
    assert.match(cert.subject, /CN=CareHub CA gw-42/)
    assert.ok(cert.checkIssued(cert))
    assert.ok(cert.verify(cert.publicKey), 'signed by its own key')
    assert.equal(Date.parse(cert.validFrom), NOW - SKEW_MS)
    assert.equal(Date.parse(cert.validTo), NOW + 3650 * DAY_MS)
    assert.equal(ca.cert.fingerprint256, cert.fingerprint256)

    const text = opensslText(ca.certPem)
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/)
    assert.match(text, /ASN1 OID: prime256v1/)
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/)
    assert.match(text, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/)
    assert.match(text, /X509v3 Subject Key Identifier/)
    const selfCheck = openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'ca.crt')])
    assert.equal(selfCheck.status, 0, selfCheck.stdout + selfCheck.stderr)
  })

  test('reloading gives the same CA and leaves both files untouched; the fingerprint is sha256 of the DER', async () => {
    const { dir, secrets, ca } = await freshCa()
    const certBefore = readFileSync(join(dir, 'ca.crt'))
    const keyBefore = readFileSync(join(dir, 'ca.key.age'))
    assert.match(ca.fingerprint, /^sha256:[0-9a-f]{64}$/)
    const fp = openssl(['x509', '-noout', '-fingerprint', '-sha256', '-in', join(dir, 'ca.crt')])
    assert.equal(ca.fingerprint, `sha256:${fp.stdout.trim().split('=')[1]?.replaceAll(':', '').toLowerCase()}`)

    const reloaded = await LocalCa.loadOrCreate({ dir, secrets, gatewayId: 'gw-test', validityDays: 3650, now: NOW + 10 * DAY_MS })
    assert.equal(reloaded.fingerprint, ca.fingerprint)
    assert.deepEqual(readFileSync(join(dir, 'ca.crt')), certBefore)
    assert.deepEqual(readFileSync(join(dir, 'ca.key.age')), keyBefore)
    // The reloaded key is the real one: what it signs verifies against the original ca.crt.
    const leaf = await reloaded.issue({ commonName: 'after-reload', usage: 'server', validityDays: 30, now: NOW })
    assert.ok(opensslVerify(dir, leaf.certPem).ok)
  })

  test('two CAs are different roots', async () => {
    const a = await freshCa()
    const b = await freshCa()
    assert.notEqual(a.ca.fingerprint, b.ca.fingerprint)
  })

  test('only ca.crt present → CAREHUB_ERR_PKI, and no new CA is made', async () => {
    const { dir, secrets } = await freshCa()
    unlinkSync(join(dir, 'ca.key.age'))
    const certBefore = readFileSync(join(dir, 'ca.crt'), 'utf8')
    await assert.rejects(
      LocalCa.loadOrCreate({ dir, secrets, gatewayId: 'gw-test', validityDays: 3650, now: NOW }),
      carehubError('CAREHUB_ERR_PKI', /ca\.crt exists without ca\.key\.age.*restore the key from a backup/),
    )
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), certBefore)
    assert.equal(existsSync(join(dir, 'ca.key.age')), false)
  })

  test('only ca.key.age present → CAREHUB_ERR_PKI, and no new CA is made', async () => {
    const { dir, secrets } = await freshCa()
    unlinkSync(join(dir, 'ca.crt'))
    const keyBefore = readFileSync(join(dir, 'ca.key.age'), 'utf8')
    await assert.rejects(
      LocalCa.loadOrCreate({ dir, secrets, gatewayId: 'gw-test', validityDays: 3650, now: NOW }),
      carehubError('CAREHUB_ERR_PKI', /ca\.key\.age exists without ca\.crt.*restore ca\.crt from a backup/),
    )
    assert.equal(existsSync(join(dir, 'ca.crt')), false)
    assert.equal(readFileSync(join(dir, 'ca.key.age'), 'utf8'), keyBefore)
  })

  test("a ca.key.age from another CA (same secrets identity) → CAREHUB_ERR_PKI 'does not belong'", async () => {
    const { dir, secrets } = await freshCa()
    const other = await freshCa({ secrets })
    copyFileSync(join(other.dir, 'ca.key.age'), join(dir, 'ca.key.age'))
    await assert.rejects(
      LocalCa.loadOrCreate({ dir, secrets, gatewayId: 'gw-test', validityDays: 3650, now: NOW }),
      carehubError('CAREHUB_ERR_PKI', /ca\.key\.age does not belong to ca\.crt/),
    )
  })

  test('a ca.key.age encrypted to another identity is refused with CAREHUB_ERR_SECRETS', async () => {
    const { dir, secrets } = await freshCa()
    const other = await freshCa()
    copyFileSync(join(other.dir, 'ca.key.age'), join(dir, 'ca.key.age'))
    await assert.rejects(
      LocalCa.loadOrCreate({ dir, secrets, gatewayId: 'gw-test', validityDays: 3650, now: NOW }),
      carehubError('CAREHUB_ERR_SECRETS'),
    )
  })

  test('a damaged ca.crt → CAREHUB_ERR_PKI', async () => {
    const { dir, secrets } = await freshCa()
    writeFileSync(join(dir, 'ca.crt'), readFileSync(join(dir, 'ca.crt'), 'utf8').slice(0, 120))
    await assert.rejects(LocalCa.loadOrCreate({ dir, secrets, gatewayId: 'gw-test', validityDays: 3650, now: NOW }), carehubError('CAREHUB_ERR_PKI'))
  })
})

describe('LocalCa.issue', () => {
  test('a server certificate: openssl verifies it for TLS servers only; EKU serverAuth, CA:FALSE, SANs and CN present', async () => {
    const { dir, ca } = await freshCa()
    const issued = await ca.issue({ commonName: 'carehub-box', usage: 'server', subjectAltNames: SERVER_NAMES, validityDays: 397, now: NOW })
    assert.ok(opensslVerify(dir, issued.certPem).ok, opensslVerify(dir, issued.certPem).output)
    const asServer = opensslVerify(dir, issued.certPem, 'sslserver')
    assert.ok(asServer.ok, asServer.output)
    const asClient = opensslVerify(dir, issued.certPem, 'sslclient')
    assert.ok(!asClient.ok, `a server certificate must not pass as a client one: ${asClient.output}`)

    const cert = new X509Certificate(issued.certPem)
    assert.equal(cert.ca, false)
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']) // node's keyUsage lists the extended key usages
    assert.equal(cert.subject, 'CN=carehub-box')
    assert.equal(cert.issuer, ca.cert.subject)
    assert.ok(cert.checkIssued(ca.cert))
    assert.ok(cert.verify(ca.cert.publicKey))
    assert.equal(cert.subjectAltName, 'DNS:localhost, DNS:carehub-box.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')

    const text = opensslText(issued.certPem)
    assert.match(text, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication\n/)
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/)
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/)
    const caSki = /X509v3 Subject Key Identifier:\s+([0-9A-F:]+)/.exec(opensslText(ca.certPem))?.[1]
    assert.ok(caSki)
    assert.match(text, new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${caSki}`))
  })

  test('a client certificate: EKU clientAuth, openssl verifies it for TLS clients only', async () => {
    const { dir, ca } = await freshCa()
    const issued = await ca.issue({ commonName: 'device-kitchen-sensor', usage: 'client', validityDays: 825, now: NOW })
    const asClient = opensslVerify(dir, issued.certPem, 'sslclient')
    assert.ok(asClient.ok, asClient.output)
    const asServer = opensslVerify(dir, issued.certPem, 'sslserver')
    assert.ok(!asServer.ok, `a client certificate must not pass as a server one: ${asServer.output}`)
    const cert = new X509Certificate(issued.certPem)
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'])
    assert.equal(cert.subject, 'CN=device-kitchen-sensor')
    assert.equal(cert.subjectAltName, undefined)
    assert.match(opensslText(issued.certPem), /X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/)
  })

  test('the returned fields describe the certificate; the key is the leaf key, not the CA key', async () => {
    const { secrets, dir, ca } = await freshCa()
    const issued = await ca.issue({ commonName: 'box', usage: 'server', subjectAltNames: SERVER_NAMES, validityDays: 90, now: NOW })
    const cert = new X509Certificate(issued.certPem)
    assert.equal(issued.serial, cert.serialNumber.toLowerCase())
    assert.match(issued.serial, /^[0-9a-f]+$/)
    assert.equal(issued.fingerprintSha256, cert.fingerprint256.replaceAll(':', '').toLowerCase())
    assert.match(issued.fingerprintSha256, /^[0-9a-f]{64}$/)
    assert.equal(issued.notBefore, NOW - SKEW_MS)
    assert.equal(issued.notAfter, NOW + 90 * DAY_MS)
    assert.equal(Date.parse(cert.validTo), issued.notAfter)
    assert.match(issued.keyPem, /^-----BEGIN PRIVATE KEY-----/)
    assert.ok(cert.checkPrivateKey(createPrivateKey(issued.keyPem)))
    const caKeyPem = await secrets.readFile(join(dir, 'ca.key.age'))
    assert.notEqual(issued.keyPem, caKeyPem)
    assert.ok(!ca.cert.checkPrivateKey(createPrivateKey(issued.keyPem)))
  })

  test('serial numbers are unique, positive, at most 20 octets (RFC 5280 §4.1.2.2)', async () => {
    const { ca } = await freshCa()
    const issued: IssuedCertificate[] = []
    for (let i = 0; i < 8; i++) issued.push(await ca.issue({ commonName: `c${i}`, usage: i % 2 ? 'client' : 'server', validityDays: 30, now: NOW }))
    const serials = issued.map((c) => c.serial)
    assert.equal(new Set([...serials, ca.cert.serialNumber.toLowerCase()]).size, serials.length + 1, serials.join(' '))
    for (const c of [...issued.map((i) => new X509Certificate(i.certPem)), ca.cert]) {
      const octets = serialOctets(c.raw)
      assert.ok(octets.length >= 1 && octets.length <= 20, `serial is ${octets.length} octets`)
      assert.equal(octets.readUInt8(0) & 0x80, 0, `serial ${octets.toString('hex')} is negative`)
      assert.ok(
        octets.some((b) => b !== 0),
        'serial is not zero',
      )
      assert.equal(octets.toString('hex'), c.serialNumber.toLowerCase().padStart(octets.length * 2, '0'))
    }
  })

  test("notAfter is clamped to the CA's notAfter; shorter validity is kept", async () => {
    const { dir, ca } = await freshCa({ validityDays: 30 })
    const caNotAfter = Date.parse(ca.cert.validTo)
    assert.equal(caNotAfter, NOW + 30 * DAY_MS)
    const long = await ca.issue({ commonName: 'long', usage: 'server', subjectAltNames: SERVER_NAMES, validityDays: 825, now: NOW })
    assert.equal(long.notAfter, caNotAfter)
    assert.equal(new X509Certificate(long.certPem).validTo, ca.cert.validTo)
    assert.ok(opensslVerify(dir, long.certPem).ok)
    const short = await ca.issue({ commonName: 'short', usage: 'client', validityDays: 7, now: NOW })
    assert.equal(short.notAfter, NOW + 7 * DAY_MS)
    // Issued later in the CA's life, the clamp still holds.
    const late = await ca.issue({ commonName: 'late', usage: 'server', validityDays: 20, now: NOW + 25 * DAY_MS })
    assert.equal(late.notAfter, caNotAfter)
  })
})

describe('LocalCa: two processes creating the CA at once', () => {
  test('the daemon and `carehub device add` racing on a new data folder end up with one CA', async () => {
    const dir = tempDir()
    const create = async () =>
      LocalCa.loadOrCreate({ dir, secrets: await SecretBox.open(dir), gatewayId: 'gw-race', validityDays: 365, now: Date.now() })
    const [a, b] = await Promise.all([create(), create()])
    assert.equal(a.fingerprint, b.fingerprint)
    assert.equal((await create()).fingerprint, a.fingerprint, 'the stored key fits the stored certificate')
  })
})
