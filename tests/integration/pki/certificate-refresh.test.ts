import assert from 'node:assert/strict'
import type { NetworkInterfaceInfo } from 'node:os'
import { describe, test } from 'node:test'
import { connect } from 'node:tls'
import { startGateway } from '../../_support/gateway-harness.js'

/** The certificate a listener presents to a new handshake. */
function servedCertificate(port: number, ca: string): Promise<{ fingerprint: string; sans: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', rejectUnauthorized: true }, () => {
      const c = s.getPeerCertificate()
      resolve({ fingerprint: c.fingerprint256, sans: c.subjectaltname ?? '' })
      s.destroy()
    })
    s.on('error', reject)
  })
}

const nic = (address: string): NetworkInterfaceInfo => ({
  address,
  netmask: '255.255.255.0',
  family: 'IPv4',
  mac: '02:00:00:00:00:01',
  internal: false,
  cidr: `${address}/24`,
})

describe('server certificate refresh while running', () => {
  test('a new LAN address re-issues the certificate and both listeners serve it without a restart', async () => {
    let addresses = [nic('192.168.1.10')]
    const h = await startGateway({}, undefined, { interfaces: () => ({ eth0: addresses }) })
    const ca = h.gateway.pki.ca.certPem
    const httpBefore = await servedCertificate(h.httpPort, ca)
    assert.match(httpBefore.sans, /192\.168\.1\.10/)
    assert.equal(await h.gateway.refreshCertificates(), null, 'nothing changed: nothing renewed')

    addresses = [nic('192.168.1.77')] // DHCP gave the box another address
    assert.match(String(await h.gateway.refreshCertificates()), /192\.168\.1\.77/)
    const httpAfter = await servedCertificate(h.httpPort, ca)
    assert.notEqual(httpAfter.fingerprint, httpBefore.fingerprint)
    assert.match(httpAfter.sans, /192\.168\.1\.77/)
    // The broker's handshake presents the new certificate too (no client certificate needed to see it).
    const mqtt = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: h.mqttPort, ca, servername: 'localhost' }, () => {
        resolve(s.getPeerCertificate().fingerprint256)
        s.destroy()
      })
      s.on('error', () => {})
    })
    assert.equal(mqtt, httpAfter.fingerprint)
  })
})
