import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type AlertMessage, escapeHtml, formatAlertEmail, formatAlertTime, formatValue } from '../../../gateway/src/notify/alert-email.js'

/** 14 January 2025, 06:32 UTC: 07:32 in Berlin (CET), 01:32 in New York, 12:02 in Kolkata. */
const WINTER = Date.UTC(2025, 0, 14, 6, 32)

function alert(over: Partial<AlertMessage> = {}): AlertMessage {
  return {
    id: 42,
    event: 'raised',
    severity: 'critical',
    title: 'Fall detected',
    body: 'The fall sensor reported a fall.\nNo movement since.',
    deviceId: 'kitchen-1',
    deviceName: 'Kitchen sensor',
    ruleName: 'Fall detection',
    raisedAt: WINTER,
    values: { fall: true, confidence: 0.930000001 },
    gatewayName: 'CareHub',
    timeZone: 'Europe/Berlin',
    panelUrl: 'https://carehub.local:8443/alerts/42',
    ...over,
  }
}

describe('formatAlertEmail: subject', () => {
  test('raised: [gateway] SEVERITY: title — device name', () => {
    assert.equal(formatAlertEmail(alert()).subject, '[CareHub] CRITICAL: Fall detected — Kitchen sensor')
    assert.equal(formatAlertEmail(alert({ severity: 'warning' })).subject, '[CareHub] WARNING: Fall detected — Kitchen sensor')
  })

  test('resolved and reopened say so', () => {
    assert.equal(formatAlertEmail(alert({ event: 'resolved' })).subject, '[CareHub] Resolved: Fall detected — Kitchen sensor')
    assert.equal(formatAlertEmail(alert({ event: 'reopened' })).subject, '[CareHub] CRITICAL again: Fall detected — Kitchen sensor')
  })

  test('the gateway name is the tag; the device id stands in for a missing name; no device, no dash', () => {
    assert.equal(formatAlertEmail(alert({ gatewayName: "Oma's flat", deviceName: null })).subject, "[Oma's flat] CRITICAL: Fall detected — kitchen-1")
    assert.equal(formatAlertEmail(alert({ deviceName: null, deviceId: null })).subject, '[CareHub] CRITICAL: Fall detected')
  })

  test('is one line, and at most 200 characters', () => {
    const { subject } = formatAlertEmail(alert({ title: 'Fall\r\nBcc: evil@example.com\tdetected', deviceName: 'Kitchen\nsensor' }))
    assert.equal(subject, '[CareHub] CRITICAL: Fall Bcc: evil@example.com detected — Kitchen sensor')
    const long = formatAlertEmail(alert({ title: 'x'.repeat(500) })).subject
    assert.equal(Array.from(long).length, 200)
    assert.ok(long.endsWith('…'))
  })
})

describe('formatAlertEmail: text', () => {
  test('lists title, body, device, rule, time in the home zone, values and the panel link', () => {
    const { text } = formatAlertEmail(alert())
    assert.match(text, /^CRITICAL — Fall detected\n/)
    assert.match(text, /The fall sensor reported a fall\.\nNo movement since\./)
    assert.match(text, /^Device: Kitchen sensor \(kitchen-1\)$/m)
    assert.match(text, /^Rule: Fall detection$/m)
    assert.match(text, /^Raised: Tue, 14 Jan 2025, 07:32 CET$/m)
    assert.match(text, /^Alert: #42$/m)
    assert.match(text, /^Values:\n {2}fall: yes\n {2}confidence: 0\.93$/m)
    assert.match(text, /^Open in the CareHub panel: https:\/\/carehub\.local:8443\/alerts\/42$/m)
    assert.match(text, /^-- \nSent by the CareHub gateway "CareHub"/m)
  })

  test('resolved and reopened explain themselves; resolved names the severity it had', () => {
    const resolved = formatAlertEmail(alert({ event: 'resolved' })).text
    assert.match(resolved, /^RESOLVED — Fall detected\n\nThis alert has been resolved\./)
    assert.match(resolved, /^Severity: critical$/m)
    assert.match(formatAlertEmail(alert({ event: 'reopened' })).text, /the snooze has run out and it is still open/)
  })

  test('no body, no rule, no values, no panel: those lines are left out', () => {
    const { text } = formatAlertEmail(alert({ body: null, ruleName: null, values: {}, panelUrl: null }))
    assert.doesNotMatch(text, /Rule:|Values:|panel/)
    assert.match(text, /^Raised: /m)
  })

  test('more than 40 values: the first 40 and a count of the rest', () => {
    const values = Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`v${i}`, i]))
    const { text, html } = formatAlertEmail(alert({ values }))
    assert.match(text, /^ {2}v39: 39$/m)
    assert.doesNotMatch(text, /v40/)
    assert.match(text, /… and 5 more/)
    assert.match(html, /… and 5 more/)
  })

  test('a non-http panel URL is not shown at all', () => {
    for (const panelUrl of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'not a url']) {
      const { text, html } = formatAlertEmail(alert({ panelUrl }))
      assert.doesNotMatch(text, /panel:/)
      assert.doesNotMatch(html, /href=/)
      assert.ok(!html.includes('javascript:') && !text.includes('javascript:'))
    }
  })
})

describe('formatAlertEmail: html', () => {
  test('escapes everything that comes from rules and devices', () => {
    const evil = alert({
      title: '<img src=x onerror=alert(1)>',
      body: 'Temp > 30 & "rising"\n<script>steal()</script>',
      deviceName: '<b>Kitchen</b>',
      deviceId: 'k"1',
      ruleName: "O'Brien's rule",
      gatewayName: '</title><script>x()</script>',
      values: { '<k>': '<v onclick="x">', nested: { html: '<i>' } },
      panelUrl: 'https://carehub.local/alerts/42?a=1&b="2"',
    })
    const { html } = formatAlertEmail(evil)
    for (const raw of ['<img', '<script', '<b>', '<k>', '<v ', '<i>', 'onclick="x"', '</title><script>']) {
      assert.ok(!html.includes(raw), `raw ${raw} in the HTML`)
    }
    assert.ok(html.includes('&#60;img src=x onerror=alert(1)&#62;'))
    assert.ok(html.includes('Temp &#62; 30 &#38; &#34;rising&#34;<br>&#60;script&#62;'))
    assert.ok(html.includes('O&#39;Brien&#39;s rule'))
    assert.ok(html.includes('{&#34;html&#34;:&#34;&#60;i&#62;&#34;}'))
    // the link is the parsed URL (quotes percent-encoded), attribute-escaped
    assert.ok(html.includes('href="https://carehub.local/alerts/42?a=1&#38;b=%222%22"'))
  })

  test('is a small standalone document readable on a phone', () => {
    const { html, subject } = formatAlertEmail(alert())
    assert.match(html, /^<!DOCTYPE html>/)
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/)
    assert.match(html, /max-width:600px/)
    assert.ok(html.includes(`<title>${escapeHtml(subject)}</title>`))
    assert.match(html, />CRITICAL</)
    assert.match(html, /Tue, 14 Jan 2025, 07:32 CET/)
    assert.match(html, /<a href="https:\/\/carehub\.local:8443\/alerts\/42"/)
    assert.match(formatAlertEmail(alert({ event: 'resolved' })).html, />RESOLVED</)
  })
})

describe('formatAlertTime', () => {
  test("shows the home's local time, whatever the box's zone", () => {
    assert.equal(formatAlertTime(WINTER, 'Europe/Berlin'), 'Tue, 14 Jan 2025, 07:32 CET')
    assert.match(formatAlertTime(WINTER, 'America/New_York'), /^Tue, 14 Jan 2025, 01:32 /)
    assert.match(formatAlertTime(WINTER, 'Asia/Kolkata'), /^Tue, 14 Jan 2025, 12:02 /)
    assert.equal(formatAlertTime(Date.UTC(2025, 6, 14, 6, 32), 'Europe/Berlin'), 'Mon, 14 Jul 2025, 08:32 CEST')
  })

  test('midnight crossings show the local date', () => {
    assert.match(formatAlertTime(Date.UTC(2025, 0, 14, 23, 30), 'Europe/Berlin'), /^Wed, 15 Jan 2025, 00:30 /)
  })

  test('an unknown zone falls back to UTC; an invalid time says so', () => {
    assert.equal(formatAlertTime(WINTER, 'Mars/Olympus'), 'Tue, 14 Jan 2025, 06:32 UTC')
    assert.equal(formatAlertTime(Number.NaN, 'Europe/Berlin'), 'unknown time')
  })
})

describe('formatValue', () => {
  test('as a person reads it', () => {
    assert.equal(formatValue(true, 'UTC'), 'yes')
    assert.equal(formatValue(false, 'UTC'), 'no')
    assert.equal(formatValue(21.499999999, 'UTC'), '21.5')
    assert.equal(formatValue(1500, 'UTC'), '1500')
    assert.equal(formatValue(12n, 'UTC'), '12')
    assert.equal(formatValue(null, 'UTC'), '—')
    assert.equal(formatValue(undefined, 'UTC'), '—')
    assert.equal(formatValue('open\r\nnow', 'UTC'), 'open now')
    assert.equal(formatValue({ a: [1, 2n] }, 'UTC'), '{"a":[1,"2"]}')
    assert.equal(formatValue(new Date(WINTER), 'Europe/Berlin'), 'Tue, 14 Jan 2025, 07:32 CET')
    assert.equal(formatValue('x'.repeat(1000), 'UTC').length, 300)
    const circular: Record<string, unknown> = {}
    circular.self = circular
    assert.equal(formatValue(circular, 'UTC'), '(not displayable)')
  })
})
