import assert from 'node:assert/strict'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { NetworkInterfaceInfo } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { type ConnectionOptions, connect, createServer, type TLSSocket } from 'node:tls'
import { LocalCa } from '../../../gateway/src/pki/local-ca.js'
import { type EnsureServerCertOptions, ensureServerCertificate } from '../../../gateway/src/pki/server-certificate.js'
import { type SubjectAltName, serverNames } from '../../../gateway/src/pki/server-names.js'
import { crypto, EC_ALGORITHM, generateKeyPair, privateKeyToPem, x509 } from '../../../gateway/src/pki/x509-keys.js'
import { SecretBox } from '../../../gateway/src/secrets/secret-box.js'
import { captureLogger } from '../../_support/log-capture.js'
import { openssl } from '../../_support/openssl.js'
import { tempDir } from '../../_support/temp.js'

const DAY_MS = 86_400_000
const NOW = Math.floor(Date.now() / 1000) * 1000

const mode = (path: string) => statSync(path).mode & 0o777

function nic(address: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo {
  return family === 'IPv4'
    ? { address, family, netmask: '255.255.255.0', mac: '02:00:00:00:00:02', internal: false, cidr: `${address}/24` }
    : { address, family, netmask: 'ffff:ffff:ffff:ffff::', mac: '02:00:00:00:00:02', internal: false, cidr: `${address}/64`, scopeid: 0 }
}

/** The names the box would compute on a LAN with one IPv4 and one global IPv6 address (IPv6 as node lists it: compressed). */
const NAMES = serverNames('carehub-test', { eth0: [nic('192.168.1.10', 'IPv4'), nic('2001:db8::10', 'IPv6')] }, [])

async function setup(caValidityDays = 3650) {
  const dir = tempDir('carehub-servercert-')
  const secrets = await SecretBox.open(dir)
  const ca = await LocalCa.loadOrCreate({ dir, secrets, gatewayId: 'gw-test', validityDays: caValidityDays, now: NOW })
  const { log, lines } = captureLogger()
  const base: EnsureServerCertOptions = {
    dir,
    ca,
    secrets,
    names: NAMES,
    commonName: 'carehub-test',
    validityDays: 397,
    renewBeforeDays: 30,
    now: NOW,
    log,
  }
  const ensure = (overrides: Partial<EnsureServerCertOptions> = {}) => ensureServerCertificate({ ...base, ...overrides })
  const issuedLogs = () => lines().filter((l) => l.msg === 'server certificate issued')
  return { dir, secrets, ca, ensure, issuedLogs, certPath: join(dir, 'server.crt'), keyPath: join(dir, 'server.key.age') }
}

const covers = (certPem: string) => new X509Certificate(certPem).subjectAltName ?? ''

describe('ensureServerCertificate', () => {
  test('the first call issues a certificate for all names and stores it (crt 0644, key age-encrypted 0600)', async () => {
    const { dir, secrets, ca, ensure, issuedLogs, certPath, keyPath } = await setup()
    const tls = await ensure()
    assert.equal(tls.renewed, 'none yet')
    assert.equal(readFileSync(certPath, 'utf8'), tls.certPem)
    assert.equal(mode(certPath), 0o644)
    assert.equal(mode(keyPath), 0o600)
    const keyFile = readFileSync(keyPath, 'utf8')
    assert.ok(keyFile.startsWith('-----BEGIN AGE ENCRYPTED FILE-----'))
    assert.ok(!keyFile.includes('PRIVATE KEY'))
    assert.equal(await secrets.readFile(keyPath), tls.keyPem)

    const cert = new X509Certificate(tls.certPem)
    assert.ok(cert.checkPrivateKey(createPrivateKey(tls.keyPem)))
    assert.ok(cert.verify(ca.cert.publicKey))
    assert.equal(tls.notAfter, Date.parse(cert.validTo))
    assert.equal(tls.notAfter, NOW + 397 * DAY_MS)
    assert.equal(cert.subject, 'CN=carehub-test')
    assert.equal(
      cert.subjectAltName,
      'DNS:localhost, DNS:carehub-test, DNS:carehub-test.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:192.168.1.10, IP Address:2001:DB8:0:0:0:0:0:10',
    )
    const verify = openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), certPath])
    assert.equal(verify.stdout.trim(), `${certPath}: OK`, verify.stderr)

    assert.equal(issuedLogs().length, 1)
    assert.equal(issuedLogs()[0]?.reason, 'none yet')
  })

  test('a second call with the same names returns the stored certificate and key (renewed null), even with IPv6 names', async () => {
    const { ensure, issuedLogs, certPath, keyPath } = await setup()
    const first = await ensure()
    const keyFileBefore = readFileSync(keyPath, 'utf8')
    const second = await ensure({ now: NOW + 10 * DAY_MS })
    assert.equal(second.renewed, null)
    assert.equal(second.certPem, first.certPem)
    assert.equal(second.keyPem, first.keyPem)
    assert.equal(second.notAfter, first.notAfter)
    assert.equal(readFileSync(certPath, 'utf8'), first.certPem)
    assert.equal(readFileSync(keyPath, 'utf8'), keyFileBefore, 'the key file is not rewritten')
    assert.equal(issuedLogs().length, 1)
  })

  test('a new IPv4 address triggers renewal with a reason naming it; the new certificate covers it', async () => {
    const { ensure, issuedLogs, certPath } = await setup()
    const first = await ensure()
    const moved: SubjectAltName[] = [...NAMES, { type: 'ip', value: '192.168.7.20' }]
    const renewed = await ensure({ names: moved })
    assert.equal(renewed.renewed, 'does not cover ip:192.168.7.20')
    assert.notEqual(renewed.certPem, first.certPem)
    assert.notEqual(renewed.keyPem, first.keyPem)
    assert.equal(readFileSync(certPath, 'utf8'), renewed.certPem)
    assert.match(covers(renewed.certPem), /IP Address:192\.168\.7\.20/)
    assert.match(covers(renewed.certPem), /IP Address:192\.168\.1\.10/)
    assert.equal(issuedLogs().at(-1)?.reason, 'does not cover ip:192.168.7.20')
    assert.equal((await ensure({ names: moved })).renewed, null, 'once covered, no more renewals')
  })

  test('a new IPv6 address or DNS name is named in the reason in canonical form', async () => {
    const { ensure } = await setup()
    await ensure()
    const more: SubjectAltName[] = [...NAMES, { type: 'ip', value: '2001:DB8:0:0:0:0:0:77' }, { type: 'dns', value: 'Care.Example.org' }]
    const renewed = await ensure({ names: more })
    assert.equal(renewed.renewed, 'does not cover ip:2001:db8::77, dns:care.example.org')
    assert.equal((await ensure({ names: more })).renewed, null)
  })

  test('renewBeforeDays larger than the remaining validity triggers renewal; smaller does not', async () => {
    const { ensure } = await setup()
    const first = await ensure({ validityDays: 30 })
    assert.equal((await ensure({ renewBeforeDays: 29 })).renewed, null)
    const renewed = await ensure({ renewBeforeDays: 31, validityDays: 30 })
    assert.equal(renewed.renewed, `expires ${new X509Certificate(first.certPem).validTo}`)
    assert.notEqual(renewed.certPem, first.certPem)
  })

  test('time passing into the renewal window triggers renewal', async () => {
    const { ensure } = await setup()
    await ensure({ validityDays: 90, renewBeforeDays: 30 })
    assert.equal((await ensure({ validityDays: 90, renewBeforeDays: 30, now: NOW + 59 * DAY_MS })).renewed, null)
    const later = NOW + 61 * DAY_MS
    const renewed = await ensure({ validityDays: 90, renewBeforeDays: 30, now: later })
    assert.match(renewed.renewed ?? '', /^expires /)
    assert.equal(renewed.notAfter, later + 90 * DAY_MS)
  })

  test('a certificate from another CA (same name, other key) triggers renewal by the current CA', async () => {
    const { dir, ensure, secrets, ca } = await setup()
    const first = await ensure()
    const otherDir = tempDir('carehub-otherca-')
    const other = await LocalCa.loadOrCreate({ dir: otherDir, secrets, gatewayId: 'gw-test', validityDays: 3650, now: NOW })
    assert.equal(other.cert.subject, ca.cert.subject, 'precondition: same CA name')
    const renewed = await ensure({ ca: other })
    assert.equal(renewed.renewed, 'not issued by the current CA')
    assert.notEqual(renewed.certPem, first.certPem)
    const newCert = new X509Certificate(renewed.certPem)
    assert.ok(newCert.verify(other.cert.publicKey))
    writeFileSync(join(otherDir, 'leaf.crt'), renewed.certPem)
    assert.equal(openssl(['verify', '-CAfile', join(otherDir, 'ca.crt'), join(otherDir, 'leaf.crt')]).status, 0)
    assert.notEqual(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(otherDir, 'leaf.crt')]).status, 0, 'the old CA does not vouch for it')
  })

  test('a planted certificate naming the current CA (name and key id) but signed by another key triggers renewal', async () => {
    const { ensure, ca, secrets, certPath, keyPath } = await setup()
    await ensure()
    const caCert = new x509.X509Certificate(ca.certPem)
    const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId
    assert.ok(caKeyId)
    const forger = await generateKeyPair()
    const leafKeys = await generateKeyPair()
    const forged = await x509.X509CertificateGenerator.create(
      {
        serialNumber: '01',
        subject: 'CN=carehub-test',
        issuer: caCert.subject,
        notBefore: new Date(NOW - 60_000),
        notAfter: new Date(NOW + 397 * DAY_MS),
        signingKey: forger.privateKey,
        publicKey: leafKeys.publicKey,
        signingAlgorithm: EC_ALGORITHM,
        extensions: [
          new x509.AuthorityKeyIdentifierExtension(caKeyId),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(NAMES.map((n) => ({ type: n.type, value: n.value }))),
        ],
      },
      crypto,
    )
    writeFileSync(certPath, forged.toString('pem'))
    await secrets.writeFile(keyPath, await privateKeyToPem(leafKeys.privateKey))
    const planted = new X509Certificate(forged.toString('pem'))
    assert.ok(planted.checkIssued(ca.cert), 'precondition: the forgery passes the issuer name and key id check')
    assert.ok(!planted.verify(ca.cert.publicKey), 'precondition: the signature is not the CA’s')

    const renewed = await ensure()
    assert.equal(renewed.renewed, 'not issued by the current CA')
    assert.ok(new X509Certificate(renewed.certPem).verify(ca.cert.publicKey))
  })

  test('a server.key.age that does not match server.crt (crash between the two writes) triggers renewal', async () => {
    const { ensure, secrets, keyPath } = await setup()
    const first = await ensure()
    const strayKey = await privateKeyToPem((await generateKeyPair()).privateKey)
    await secrets.writeFile(keyPath, strayKey)
    const renewed = await ensure()
    assert.equal(renewed.renewed, 'key does not match the certificate')
    assert.notEqual(renewed.certPem, first.certPem)
    assert.ok(new X509Certificate(renewed.certPem).checkPrivateKey(createPrivateKey(renewed.keyPem)))
    assert.equal(await secrets.readFile(keyPath), renewed.keyPem)
    assert.equal((await ensure()).renewed, null)
  })

  test('a damaged server.crt is replaced, not a start-up failure', async () => {
    const { ensure, certPath } = await setup()
    await ensure()
    writeFileSync(certPath, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n')
    const renewed = await ensure()
    assert.equal(renewed.renewed, 'unreadable')
    assert.equal((await ensure()).renewed, null)
  })

  test('a missing server.crt or server.key.age means a fresh issue', async () => {
    const { ensure, certPath, keyPath } = await setup()
    await ensure()
    unlinkSync(certPath)
    assert.equal((await ensure()).renewed, 'none yet')
    unlinkSync(keyPath)
    assert.equal((await ensure()).renewed, 'none yet')
    assert.equal((await ensure()).renewed, null)
  })

  test('renewals replace both files in place, keep their modes and leave no temporary files', async () => {
    const { dir, ensure, certPath, keyPath, secrets } = await setup()
    await ensure()
    await ensure({ names: [...NAMES, { type: 'ip', value: '192.168.7.21' }] })
    const last = await ensure({ renewBeforeDays: 400 })
    assert.match(last.renewed ?? '', /^expires /)
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key.age', 'identity.age', 'server.crt', 'server.key.age'])
    assert.equal(mode(certPath), 0o644)
    assert.equal(mode(keyPath), 0o600)
    assert.equal(readFileSync(certPath, 'utf8'), last.certPem)
    assert.equal(await secrets.readFile(keyPath), last.keyPem)
  })
})

interface Handshake {
  readonly authorized: boolean
  readonly peerFingerprint: string
  readonly greeting: string
}

async function startTlsServer(certPem: string, keyPem: string, host: string): Promise<number> {
  const sockets = new Set<TLSSocket>()
  const server = createServer({ cert: certPem, key: keyPem }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.end('hello from carehub')
  })
  server.on('tlsClientError', () => {}) // refused clients are expected here
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve())
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return (server.address() as AddressInfo).port
}

function handshake(options: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect(options)
    let greeting = ''
    let authorized = false
    let peerFingerprint = ''
    socket.setEncoding('utf8')
    socket.once('secureConnect', () => {
      authorized = socket.authorized
      peerFingerprint = socket.getPeerCertificate().fingerprint256
    })
    socket.on('data', (chunk: string) => {
      greeting += chunk
    })
    socket.once('end', () => {
      socket.end()
      resolve({ authorized, peerFingerprint, greeting })
    })
    socket.once('error', (err) => {
      socket.destroy()
      reject(err)
    })
  })
}

describe('the server certificate over real TLS on loopback', () => {
  test('a client holding only ca.crt trusts the server by name and by IP; a client without it is refused', async () => {
    const { dir, ensure } = await setup()
    const tls = await ensure()
    const port = await startTlsServer(tls.certPem, tls.keyPem, '127.0.0.1')
    const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8')
    const fingerprint = new X509Certificate(tls.certPem).fingerprint256

    const byName = await handshake({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem })
    assert.equal(byName.authorized, true)
    assert.equal(byName.peerFingerprint, fingerprint)
    assert.equal(byName.greeting, 'hello from carehub')

    const byMdnsName = await handshake({ host: '127.0.0.1', port, servername: 'carehub-test.local', ca: caPem })
    assert.equal(byMdnsName.authorized, true)

    const byIp = await handshake({ host: '127.0.0.1', port, ca: caPem })
    assert.equal(byIp.authorized, true)
    assert.equal(byIp.peerFingerprint, fingerprint)

    await assert.rejects(handshake({ host: '127.0.0.1', port, servername: 'localhost' }), (err: NodeJS.ErrnoException) => {
      assert.match(err.code ?? '', /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)$/, err.message)
      return true
    })

    await assert.rejects(handshake({ host: '127.0.0.1', port, servername: 'not-this-box.example', ca: caPem }), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID', err.message)
      return true
    })
  })

  test('a client trusting another CareHub CA is refused', async () => {
    const { ensure } = await setup()
    const tls = await ensure()
    const port = await startTlsServer(tls.certPem, tls.keyPem, '127.0.0.1')
    const other = await setup()
    await assert.rejects(handshake({ host: '127.0.0.1', port, servername: 'localhost', ca: other.ca.certPem }), (err: NodeJS.ErrnoException) => {
      assert.match(err.code ?? '', /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/, err.message)
      return true
    })
  })

  test('over IPv6 loopback, a client connecting to ::1 trusts the server', async (t) => {
    const { dir, ensure } = await setup()
    const tls = await ensure()
    let port: number
    try {
      port = await startTlsServer(tls.certPem, tls.keyPem, '::1')
    } catch (err) {
      t.skip(`no IPv6 loopback here: ${(err as Error).message}`)
      return
    }
    const result = await handshake({ host: '::1', port, ca: readFileSync(join(dir, 'ca.crt')) })
    assert.equal(result.authorized, true)
    assert.equal(result.greeting, 'hello from carehub')
  })
})
