import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, test } from 'node:test'
import { startGateway } from '../../_support/gateway-harness.js'

/**
 * A browser in ANOTHER process (as an ESP32 or a phone would be) looks for both services. Loopback
 * multicast only (interface 127.0.0.1): nothing leaves this machine.
 */
function browse(type: string, gatewayId: string, timeoutMs = 8000): Promise<{ name: string; port: number; txt: Record<string, string> }> {
  const code = `
    import { Bonjour } from 'bonjour-service'
    const b = new Bonjour({ interface: '127.0.0.1', bind: '224.0.0.251' })
    b.find({ type: ${JSON.stringify(type)}, protocol: 'tcp' }, (s) => {
      // Other test files may advertise on loopback at the same time: only ours counts.
      if (s.txt?.gw !== ${JSON.stringify(gatewayId)}) return
      process.stdout.write(JSON.stringify({ name: s.name, port: s.port, txt: s.txt }) + '\\n')
      b.destroy(); process.exit(0)
    })
    setTimeout(() => process.exit(3), ${timeoutMs})`
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: new URL('../../../gateway/', import.meta.url).pathname })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d
    })
    child.on('exit', (c) => (c === 0 ? resolve(JSON.parse(out.split('\n')[0] as string)) : reject(new Error(`no ${type} service found (exit ${c})`))))
  })
}

describe('mDNS advertising', () => {
  test('another process finds _secure-mqtt._tcp and _carehub._tcp with gateway id, version, CA fingerprint and ports', async () => {
    const h = await startGateway({ mdns: { enabled: true, interface: '127.0.0.1' } })
    const [broker, panel] = await Promise.all([browse('secure-mqtt', h.gateway.gatewayId), browse('carehub', h.gateway.gatewayId)])
    for (const s of [broker, panel]) {
      assert.equal(s.txt.gw, h.gateway.gatewayId)
      assert.equal(s.txt.v, '0.0.0-test')
      assert.equal(s.txt.ca, h.gateway.pki.ca.fingerprint)
      assert.match(s.txt.ca ?? '', /^sha256:[0-9a-f]{64}$/)
      assert.equal(s.txt.mqtt, String(h.mqttPort))
      assert.equal(s.txt.https, String(h.httpPort))
    }
    assert.equal(broker.port, h.mqttPort)
    assert.equal(panel.port, h.httpPort)
  })
})
