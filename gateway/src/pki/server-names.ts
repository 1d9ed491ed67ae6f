import { isIP } from 'node:net'
import type { NetworkInterfaceInfo } from 'node:os'

export interface SubjectAltName {
  readonly type: 'dns' | 'ip'
  readonly value: string
}

/**
 * The names a client on the LAN may use to reach the box: its hostname, `hostname.local` (mDNS),
 * localhost, the loopback addresses and every non-loopback address it has now, plus configured
 * extras. Pure: the caller passes os.hostname() and os.networkInterfaces().
 */
export function serverNames(hostname: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>, extra: readonly string[]): SubjectAltName[] {
  const host = hostname.toLowerCase().replace(/\.local$/, '')
  const dns = new Set(['localhost', host, `${host}.local`])
  const ips = new Set(['127.0.0.1', '::1'])
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) {
      if (i.internal) continue
      // Link-local IPv6 needs a zone id to be usable in a URL; certificates cannot carry one.
      if (i.family === 'IPv6' && i.address.toLowerCase().startsWith('fe80')) continue
      ips.add(i.address)
    }
  }
  for (const name of extra) {
    if (isIP(name)) ips.add(name)
    else dns.add(name.toLowerCase())
  }
  return [...[...dns].map((value) => ({ type: 'dns' as const, value })), ...[...ips].map((value) => ({ type: 'ip' as const, value }))]
}

/** Node's X509Certificate.subjectAltName text ("DNS:a, IP Address:1.2.3.4") as a set of "dns:a" / "ip:1.2.3.4". */
export function parseSubjectAltNames(text: string | undefined): Set<string> {
  const out = new Set<string>()
  for (const part of (text ?? '').split(', ')) {
    const [kind, ...rest] = part.split(':')
    const value = rest.join(':').toLowerCase()
    if (kind === 'DNS') out.add(`dns:${value}`)
    else if (kind === 'IP Address') out.add(`ip:${normalizeIp(value)}`)
  }
  return out
}

export function sanKey(n: SubjectAltName): string {
  return `${n.type}:${n.type === 'ip' ? normalizeIp(n.value) : n.value.toLowerCase()}`
}

/** Node prints IPv6 SANs fully expanded ("0:0:0:0:0:0:0:1"); compare in one canonical form. */
function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1)
}
