import assert from 'node:assert/strict'
import type { NetworkInterfaceInfo } from 'node:os'
import { describe, test } from 'node:test'
import { Bonjour } from 'bonjour-service'
import { MdnsAdvertiser } from '../../../gateway/src/system/mdns-advertiser.js'
import { captureLogger } from '../../_support/log-capture.js'

const nic = (address: string): NetworkInterfaceInfo => ({
  address,
  netmask: '255.255.255.0',
  family: 'IPv4',
  mac: '02:00:00:00:00:02',
  internal: false,
  cidr: `${address}/24`,
})

describe('mDNS re-announcement', () => {
  test('a change of the box addresses re-announces both services; no change, no announcement', async () => {
    let addresses = [nic('192.168.1.10')]
    const { log, lines } = captureLogger()
    const advertiser = new MdnsAdvertiser({
      enabled: true,
      interfaceAddress: '127.0.0.1',
      name: () => 'CareHub gw-test',
      txt: () => ({ gw: 'gw-test' }),
      mqttPort: () => 18883,
      httpPort: () => 18443,
      interfaces: () => ({ eth0: addresses }),
      // Longer than the first announcement's probing (3 × 250 ms, RFC 6762 §8.1), as in production (30 s).
      recheckMs: 1000,
      log,
    })
    await advertiser.start()
    const announcements = () => lines().filter((l) => l.msg === 'advertising over mDNS').length
    await new Promise((r) => setTimeout(r, 1300))
    assert.equal(announcements(), 1, 'unchanged addresses: announced once')
    addresses = [nic('192.168.1.77')]
    await new Promise((r) => setTimeout(r, 1100))
    assert.ok(lines().some((l) => l.msg === 'network addresses changed: re-announcing over mDNS'))
    assert.equal(announcements(), 2)
    // After the re-announcement the services are still there to be found.
    const browser = new Bonjour({ interface: '127.0.0.1', bind: '224.0.0.251' } as never)
    const found = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 4000)
      browser.find({ type: 'secure-mqtt', protocol: 'tcp' }, (svc) => {
        if (svc.name !== 'CareHub gw-test MQTT') return
        clearTimeout(timer)
        resolve(svc.name)
      })
    })
    browser.destroy()
    assert.equal(found, 'CareHub gw-test MQTT')
    await advertiser.stop()
  })

  test('disabled: nothing is sent or bound', async () => {
    const { log, lines } = captureLogger()
    const advertiser = new MdnsAdvertiser({
      enabled: false,
      interfaceAddress: undefined,
      name: () => 'x',
      txt: () => ({}),
      mqttPort: () => 1,
      httpPort: () => 2,
      interfaces: () => ({}),
      recheckMs: 50,
      log,
    })
    await advertiser.start()
    await advertiser.stop()
    assert.equal(lines().length, 0)
  })
})
