/**
 * An alert as an email: subject, plain text and HTML (pure). Titles, bodies, names and values come
 * from rule definitions and device data, so every one of them is escaped in the HTML and kept to
 * one line where a line is expected (a newline in a subject would start a new header in a careless
 * mailer; nodemailer folds it, but the subject should read right anyway). Times are shown in the
 * home's time zone: a carer in another zone still reads "07:32 CET", the time the person lived.
 */

export interface AlertMessage {
  readonly id: number
  readonly event: 'raised' | 'resolved' | 'reopened'
  readonly severity: 'info' | 'warning' | 'critical'
  readonly title: string
  readonly body: string | null
  readonly deviceId: string | null
  readonly deviceName: string | null
  readonly ruleName: string | null
  readonly raisedAt: number
  readonly values: Readonly<Record<string, unknown>>
  readonly gatewayName: string
  readonly timeZone: string
  readonly panelUrl: string | null
}

export interface AlertEmail {
  readonly subject: string
  readonly text: string
  readonly html: string
}

const MAX_SUBJECT = 200
const MAX_VALUES = 40
const MAX_VALUE_CHARS = 300

const SEVERITY_COLOR = { critical: '#b42318', warning: '#b54708', info: '#175cd3' } as const
const RESOLVED_COLOR = '#067647'

export function formatAlertEmail(m: AlertMessage): AlertEmail {
  const severity = m.severity.toUpperCase()
  const gateway = oneLine(m.gatewayName) || 'CareHub'
  const title = oneLine(m.title) || 'Alert'
  const device = deviceLabel(m)
  const shortDevice = oneLine(m.deviceName ?? '') || oneLine(m.deviceId ?? '')
  const head = m.event === 'resolved' ? 'Resolved' : m.event === 'reopened' ? `${severity} again` : severity
  const subject = truncate(`[${gateway}] ${head}: ${title}${shortDevice ? ` — ${shortDevice}` : ''}`, MAX_SUBJECT)

  const facts: Array<[string, string]> = []
  if (m.event === 'resolved') facts.push(['Severity', m.severity])
  if (device) facts.push(['Device', device])
  if (m.ruleName) facts.push(['Rule', oneLine(m.ruleName)])
  facts.push(['Raised', formatAlertTime(m.raisedAt, m.timeZone)])
  facts.push(['Alert', `#${m.id}`])

  const entries = Object.entries(m.values)
  const values = entries.slice(0, MAX_VALUES).map(([k, v]): [string, string] => [oneLine(k), formatValue(v, m.timeZone)])
  const moreValues = entries.length - values.length
  const body = m.body?.replace(/\r\n?/g, '\n').trim() || null
  const link = safeHttpUrl(m.panelUrl)
  const notice = NOTICE[m.event]
  const footer = `Sent by the CareHub gateway "${gateway}" because this address is listed for its alert emails.`

  const text = [
    `${m.event === 'resolved' ? 'RESOLVED' : severity} — ${title}`,
    ...(notice ? ['', notice] : []),
    ...(body ? ['', body] : []),
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    ...(values.length > 0 ? ['', 'Values:', ...values.map(([k, v]) => `  ${k}: ${v}`)] : []),
    ...(moreValues > 0 ? [`  … and ${moreValues} more`] : []),
    ...(link ? ['', `Open in the CareHub panel: ${link}`] : []),
    '',
    '-- ',
    footer,
    '',
  ].join('\n')

  const color = m.event === 'resolved' ? RESOLVED_COLOR : SEVERITY_COLOR[m.severity]
  const row = (k: string, v: string) =>
    `<tr><th align="left" valign="top" style="padding:4px 12px 4px 0;font-weight:600;white-space:nowrap">${escapeHtml(k)}</th>` +
    `<td style="padding:4px 0;word-break:break-word">${escapeHtml(v)}</td></tr>`
  const table = (rows: Array<[string, string]>) =>
    `<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin:0 0 16px">${rows.map(([k, v]) => row(k, v)).join('')}</table>`
  const html = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(subject)}</title></head>`,
    '<body style="margin:0;padding:16px;background:#ffffff;color:#1a1a1a;font-family:-apple-system,\'Segoe UI\',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5">',
    '<div style="max-width:600px;margin:0 auto">',
    `<p style="margin:0 0 4px;font-size:14px;font-weight:700;letter-spacing:0.05em;color:${color}">${m.event === 'resolved' ? 'RESOLVED' : escapeHtml(severity)}</p>`,
    `<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3">${escapeHtml(title)}</h1>`,
    notice ? `<p style="margin:0 0 16px">${escapeHtml(notice)}</p>` : '',
    body ? `<p style="margin:0 0 16px">${escapeHtml(body).replace(/\n/g, '<br>')}</p>` : '',
    table(facts),
    values.length > 0 ? `<h2 style="margin:0 0 8px;font-size:16px">Values</h2>${table(values)}` : '',
    moreValues > 0 ? `<p style="margin:0 0 16px">… and ${moreValues} more</p>` : '',
    link
      ? `<p style="margin:0 0 24px"><a href="${escapeHtml(link)}" style="display:inline-block;padding:10px 16px;background:#1a56db;color:#ffffff;text-decoration:none;border-radius:6px">Open in the CareHub panel</a></p>`
      : '',
    `<p style="margin:0;font-size:13px;color:#555555">${escapeHtml(footer)}</p>`,
    '</div></body></html>',
    '',
  ]
    .filter((part) => part !== '')
    .join('\n')

  return { subject, text, html }
}

const NOTICE: Readonly<Record<AlertMessage['event'], string | null>> = {
  raised: null,
  resolved: 'This alert has been resolved.',
  reopened: 'This alert was snoozed; the snooze has run out and it is still open.',
}

/** "Tue, 14 Jan 2025, 07:32 CET" in `timeZone`; an unknown zone falls back to UTC, an invalid time to "unknown time". */
export function formatAlertTime(epochMs: number, timeZone: string): string {
  if (!Number.isFinite(epochMs)) return 'unknown time'
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }
  try {
    return new Intl.DateTimeFormat('en-GB', { ...options, timeZone }).format(epochMs)
  } catch {
    try {
      return new Intl.DateTimeFormat('en-GB', { ...options, timeZone: 'UTC' }).format(epochMs)
    } catch {
      return 'unknown time'
    }
  }
}

/** One value as a person reads it: yes/no, numbers without float noise, objects as compact JSON. */
export function formatValue(value: unknown, timeZone: string): string {
  switch (typeof value) {
    case 'string':
      return truncate(oneLine(value), MAX_VALUE_CHARS)
    case 'number':
      return Number.isInteger(value) || !Number.isFinite(value) ? String(value) : String(Number(value.toPrecision(6)))
    case 'boolean':
      return value ? 'yes' : 'no'
    case 'bigint':
      return value.toString()
    case 'undefined':
      return '—'
    default:
      if (value === null) return '—'
      if (value instanceof Date) return formatAlertTime(value.getTime(), timeZone)
      try {
        const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
        return json === undefined ? '—' : truncate(oneLine(json), MAX_VALUE_CHARS)
      } catch {
        return '(not displayable)'
      }
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function deviceLabel(m: AlertMessage): string {
  const name = m.deviceName ? oneLine(m.deviceName) : ''
  const id = m.deviceId ? oneLine(m.deviceId) : ''
  if (name && id && name !== id) return `${name} (${id})`
  return name || id
}

/** Control characters (CR, LF, tab, Unicode line separators) become single spaces. */
function oneLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]+/g, ' ').trim()
}

/** At most `max` characters (code points, so an emoji is never cut in half). */
function truncate(s: string, max: number): string {
  const chars = Array.from(s)
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`
}

/** Only http(s) links are shown as links: a javascript: or data: URL from a bad config must not become clickable. */
function safeHttpUrl(url: string | null): string | null {
  if (!url) return null
  try {
    const u = new URL(url)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}
