import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server'
import { generateKeyPair, newSerialNumber, privateKeyToPem, crypto as webcrypto, x509 } from '../../gateway/src/pki/x509-keys.js'

/** One message as the SMTP server received it: envelope, session facts and the raw RFC 5322 text. */
export interface ReceivedMail {
  readonly mailFrom: string
  readonly rcptTo: readonly string[]
  readonly secure: boolean
  readonly user: string | undefined
  readonly raw: string
}

export interface SmtpSink {
  readonly port: number
  readonly received: ReceivedMail[]
  close(): Promise<void>
}

/**
 * A real SMTP server (the `smtp-server` package, by nodemailer's author) on 127.0.0.1 at a random
 * port, collecting what it is sent. `options` are passed through (onAuth, onRcptTo, key/cert, …)
 * except onData; `refuseData` answers the message with an error instead (after reading it).
 * Reverse DNS is off so nothing leaves loopback.
 */
export async function startSmtpSink(
  options: Omit<SMTPServerOptions, 'onData'> = {},
  refuseData?: () => (Error & { responseCode?: number }) | undefined,
): Promise<SmtpSink> {
  const received: ReceivedMail[] = []
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 200,
    authOptional: true,
    ...options,
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        })
        callback(refuseData?.() ?? null, 'queued')
      })
    },
  })
  server.on('error', () => {}) // a client that drops its connection is not a test failure
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  const { port } = server.server.address() as AddressInfo
  return {
    port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** A throw-away self-signed certificate for 127.0.0.1 / localhost (EC P-256), as PEM. */
export async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const keys = await generateKeyPair()
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerialNumber(),
      name: 'CN=smtp.test',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      keys,
      signingAlgorithm: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
        ]),
      ],
    },
    webcrypto,
  )
  return { key: await privateKeyToPem(keys.privateKey), cert: cert.toString('pem') }
}

export interface ParsedMail {
  /** Header names lowercased; unfolded; RFC 2047 encoded words decoded. */
  readonly headers: ReadonlyMap<string, string>
  /** Decoded bodies of the parts, by content type (text/plain, text/html). */
  readonly parts: ReadonlyMap<string, string>
}

/**
 * Just enough of RFC 5322 / MIME to read what nodemailer writes: headers, one level of
 * multipart/alternative, quoted-printable or base64 parts, UTF-8 encoded words.
 */
export function parseMail(raw: string): ParsedMail {
  const [head, body] = splitHeadBody(raw)
  const headers = parseHeaders(head)
  const parts = new Map<string, string>()
  const type = headers.get('content-type') ?? 'text/plain'
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1]
  if (boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break
      const [partHead, partBody] = splitHeadBody(chunk.replace(/^\r\n/, ''))
      const h = parseHeaders(partHead)
      parts.set(mediaType(h.get('content-type')), decodeBody(partBody.replace(/\r\n$/, ''), h.get('content-transfer-encoding')))
    }
  } else {
    parts.set(mediaType(type), decodeBody(body, headers.get('content-transfer-encoding')))
  }
  return { headers, parts }
}

function splitHeadBody(text: string): [string, string] {
  const at = text.indexOf('\r\n\r\n')
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 4)]
}

function parseHeaders(head: string): Map<string, string> {
  const headers = new Map<string, string>()
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()))
  }
  return headers
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? 'text/plain').split(';')[0]?.trim().toLowerCase() ?? 'text/plain'
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch (encoding?.toLowerCase()) {
    case 'quoted-printable':
      return decodeQuotedPrintable(body)
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
    default:
      return body
  }
}

/** RFC 2045 §6.7: soft line breaks and =XX octets (UTF-8 reassembled). */
export function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\r?\n/g, '')
  const bytes: number[] = []
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i] as string
    if (c === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      bytes.push(...Buffer.from(c, 'utf8'))
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

/** RFC 2047 encoded words (=?UTF-8?Q?…?= / =?UTF-8?B?…?=); whitespace between two of them is dropped. */
function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, data: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
    )
}
