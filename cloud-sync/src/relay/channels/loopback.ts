import { isIP } from 'node:net'

/**
 * Whether `hostname` (as `URL.hostname` gives it: IPv6 in brackets) names this machine: `localhost`
 * (and `*.localhost`, RFC 6761), 127.0.0.0/8, ::1 or an IPv4-mapped 127.x. Only such hosts may be
 * reached without TLS, since nothing then crosses a network.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(host)
  return false
}
