import type { TLSSocket } from 'node:tls'
import type { Client } from 'aedes'

/** What the broker knows about an authenticated client: its device identity and certificate. */
export interface DeviceSession {
  readonly deviceId: string
  /** Hex serial of the client certificate; null on the loopback plain listener. */
  readonly serial: string | null
  readonly remoteAddress: string | undefined
}

/** The raw CONNECT facts aedes rewrites before authenticate() (an empty id becomes aedes_<uuid>). */
export interface ConnectFacts {
  readonly clientId: string
  readonly clean: boolean
  readonly willTopic: string | null
}

export function peerCertificate(client: Client): { cn: string | undefined; serial: string | undefined } | null {
  const socket = client.conn as Partial<TLSSocket>
  if (typeof socket.getPeerCertificate !== 'function') return null
  if (!socket.authorized) return { cn: undefined, serial: undefined }
  const cert = socket.getPeerCertificate()
  const cn = cert.subject?.CN
  return { cn: Array.isArray(cn) ? undefined : cn, serial: cert.serialNumber?.toLowerCase() }
}
