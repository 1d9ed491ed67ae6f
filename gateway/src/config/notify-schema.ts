import { isIPv4, isIPv6 } from 'node:net'
import { z } from 'zod'
import { SEVERITIES } from '../core/severity.js'

/**
 * Local alert channels (issue 7). Only email over SMTP so far. The SMTP password is not here: it is
 * the encrypted secret smtp.password (carehub secret set smtp.password).
 */

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and "localhost": traffic that never leaves the box. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '')
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  if (isIPv4(h)) return h.startsWith('127.')
  if (isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h)
  return false
}

const host = z.union([z.hostname(), z.ipv4(), z.ipv6()], {
  error: 'a host name or IP address of the SMTP server, e.g. smtp.example.com or 192.168.1.5 (no scheme, no port)',
})
const address = z.email({ error: 'an email address such as alerts@example.com' })

export const EmailSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Feature flag: email alerts through an SMTP server.'),
    host: host.optional().describe('SMTP server (relay or submission server), e.g. smtp.example.com. Required when enabled.'),
    port: z.int().min(1).max(65535).default(587).describe('587 for STARTTLS (submission), 465 for implicit TLS, 25 for a local relay.'),
    security: z
      .enum(['starttls', 'tls', 'none'])
      .default('starttls')
      .describe(
        'starttls: plain connect, then STARTTLS is required (port 587); tls: TLS from the first byte (port 465); none: no encryption — only for a server on this box (localhost), since alert emails hold health information.',
      ),
    username: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe('User to sign in as (AUTH). Its password is the secret smtp.password (carehub secret set smtp.password). Absent: no sign-in.'),
    from: address.optional().describe('Sender address. Many servers accept only the address of the signed-in user. Required when enabled.'),
    to: z.array(address).max(50).default([]).describe('Who gets the alert emails; at least one address when enabled.'),
    minSeverity: z.enum(SEVERITIES).default('warning').describe('Email alerts of this severity and above (and their resolution).'),
    timeoutMs: z
      .int()
      .min(1000)
      .max(120_000)
      .default(10_000)
      .describe('Connecting, the greeting and each SMTP reply may take this long; beyond it the send fails and is retried.'),
    tlsRejectUnauthorized: z
      .boolean()
      .default(true)
      .describe(
        "Check the server's TLS certificate. A relay on the home network with a self-signed certificate may need false: the link is then encrypted but the server unverified.",
      ),
  })
  .superRefine((e, ctx) => {
    if (e.security === 'none' && e.host !== undefined && !isLoopbackHost(e.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['security'],
        message: `"none" sends alert emails, which hold health information, unencrypted over the network; it is allowed only for a server on this box (localhost, 127.0.0.1, ::1). For ${e.host} use starttls (port 587) or tls (port 465), with tlsRejectUnauthorized: false if the server has a self-signed certificate`,
      })
    }
    if (!e.enabled) return
    const required = 'is required when notify.email.enabled is true'
    if (e.host === undefined) ctx.addIssue({ code: 'custom', path: ['host'], message: `the SMTP server ${required}` })
    if (e.from === undefined) ctx.addIssue({ code: 'custom', path: ['from'], message: `the sender address ${required}` })
    if (e.to.length === 0) ctx.addIssue({ code: 'custom', path: ['to'], message: `at least one recipient address ${required}` })
  })
  .prefault({})
  .describe('Alert emails over SMTP. Off by default.')

export const NotifySchema = z
  .strictObject({
    email: EmailSchema,
  })
  .prefault({})
  .describe('Local alert channels.')

export type EmailConfig = z.output<typeof EmailSchema>
export type NotifyConfig = z.output<typeof NotifySchema>
