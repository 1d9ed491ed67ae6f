import assert from 'node:assert/strict'
import type { NetworkInterfaceInfo } from 'node:os'
import { describe, test } from 'node:test'
import { parseSubjectAltNames, type SubjectAltName, sanKey, serverNames } from '../../../gateway/src/pki/server-names.js'

function v4(address: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal, cidr: `${address}/24` }
}

function v6(address: string, internal = false, scopeid = 0): NetworkInterfaceInfo {
  return { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal, cidr: `${address}/64`, scopeid }
}

/** An address as node:crypto prints an IP SAN: IPv6 fully expanded, upper-case, no leading zeros ("0:0:0:0:0:0:0:1"). */
function nodeStyleIp(ip: string): string {
  if (!ip.includes(':')) return ip
  const [head = '', tail] = ip.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups.map((g) => g.toUpperCase().replace(/^0+(?=.)/, '')).join(':')
}

const keys = (names: readonly SubjectAltName[]) => names.map((n) => `${n.type}:${n.value}`).sort()

describe('serverNames', () => {
  test('gives localhost, the hostname, hostname.local and both loopback addresses even with no interfaces', () => {
    assert.deepEqual(keys(serverNames('carehub-box', {}, [])), [
      'dns:carehub-box',
      'dns:carehub-box.local',
      'dns:localhost',
      'ip:127.0.0.1',
      'ip:::1',
    ])
  })

  test('lower-cases the hostname and does not double a .local suffix', () => {
    const names = keys(serverNames('CareHub-Box.local', {}, []))
    assert.ok(names.includes('dns:carehub-box'))
    assert.ok(names.includes('dns:carehub-box.local'))
    assert.ok(!names.some((n) => n.includes('.local.local')), names.join(' '))
    assert.ok(!names.some((n) => /[A-Z]/.test(n)), names.join(' '))
  })

  test('adds non-internal IPv4 and IPv6 addresses, skips internal ones and fe80 link-local', () => {
    const interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = {
      lo: [v4('127.0.0.1', true), v6('::1', true)],
      eth0: [v4('192.168.1.23'), v6('2001:db8::23'), v6('fe80::1c2f:33ff:fe44:5566', false, 2)],
      wlan0: [v4('10.0.0.7'), v6('FE80::ABCD', false, 3), v6('fd12:3456:789a::7')],
      lo2: [v4('127.0.1.1', true)],
      down: undefined,
    }
    assert.deepEqual(keys(serverNames('box', interfaces, [])), [
      'dns:box',
      'dns:box.local',
      'dns:localhost',
      'ip:10.0.0.7',
      'ip:127.0.0.1',
      'ip:192.168.1.23',
      'ip:2001:db8::23',
      'ip:::1',
      'ip:fd12:3456:789a::7',
    ])
  })

  test('classifies configured extras as ip or dns, lower-casing DNS names', () => {
    const names = serverNames('box', {}, ['192.168.50.2', '2001:db8::99', 'CareHub.Example.org', 'gateway'])
    const byValue = new Map(names.map((n) => [n.value, n.type]))
    assert.equal(byValue.get('192.168.50.2'), 'ip')
    assert.equal(byValue.get('2001:db8::99'), 'ip')
    assert.equal(byValue.get('carehub.example.org'), 'dns')
    assert.equal(byValue.get('gateway'), 'dns')
    assert.equal(byValue.has('CareHub.Example.org'), false)
  })

  test('lists each name once', () => {
    const names = serverNames('localhost', { eth0: [v4('192.168.1.23'), v4('192.168.1.23')] }, [
      'localhost',
      '127.0.0.1',
      'LOCALHOST',
      '192.168.1.23',
    ])
    const k = names.map(sanKey)
    assert.equal(new Set(k).size, k.length, k.join(' '))
  })
})

describe('parseSubjectAltNames and sanKey', () => {
  test('read node:crypto subjectAltName text into dns:/ip: keys, ignoring other kinds', () => {
    const parsed = parseSubjectAltNames('DNS:localhost, DNS:Box.Local, IP Address:127.0.0.1, email:a@b.example, URI:http://x.example/')
    assert.deepEqual([...parsed].sort(), ['dns:box.local', 'dns:localhost', 'ip:127.0.0.1'])
  })

  test('an absent SAN extension is an empty set', () => {
    assert.equal(parseSubjectAltNames(undefined).size, 0)
    assert.equal(parseSubjectAltNames('').size, 0)
  })

  test('IPv6 written expanded (as node prints it) and compressed give the same key', () => {
    const parsed = parseSubjectAltNames('IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:23, IP Address:FD12:3456:789A:0:0:0:0:7')
    for (const value of ['::1', '0:0:0:0:0:0:0:1', '2001:db8::23', '2001:DB8:0:0:0:0:0:23', 'fd12:3456:789a::7']) {
      assert.ok(parsed.has(sanKey({ type: 'ip', value })), `${value} → ${sanKey({ type: 'ip', value })} not in ${[...parsed].join(' ')}`)
    }
    assert.equal(sanKey({ type: 'ip', value: '0:0:0:0:0:0:0:1' }), sanKey({ type: 'ip', value: '::1' }))
    assert.ok(!parsed.has(sanKey({ type: 'ip', value: '::2' })), 'a different address is not covered')
  })

  test('sanKey keeps IPv4 as is, lower-cases DNS, and keeps dns and ip apart', () => {
    assert.equal(sanKey({ type: 'ip', value: '192.168.1.23' }), 'ip:192.168.1.23')
    assert.equal(sanKey({ type: 'dns', value: 'Box.Local' }), 'dns:box.local')
    assert.notEqual(sanKey({ type: 'dns', value: '127.0.0.1' }), sanKey({ type: 'ip', value: '127.0.0.1' }))
  })

  test('every name serverNames produces is covered by its own SAN text', () => {
    const names = serverNames('box', { eth0: [v4('192.168.1.23'), v6('2001:db8::23')] }, ['extra.example'])
    // The text node:crypto prints for such a certificate: DNS names as given, IPv6 fully expanded.
    const text = names.map((n) => (n.type === 'dns' ? `DNS:${n.value}` : `IP Address:${nodeStyleIp(n.value)}`)).join(', ')
    assert.equal(nodeStyleIp('2001:db8::23'), '2001:DB8:0:0:0:0:0:23')
    assert.match(text, /IP Address:0:0:0:0:0:0:0:1/)
    const covered = parseSubjectAltNames(text)
    assert.deepEqual(
      names.map(sanKey).filter((k) => !covered.has(k)),
      [],
    )
  })
})
