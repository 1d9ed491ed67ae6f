import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig } from '../../../gateway/src/config/load.js'
import { EmailSchema, isLoopbackHost } from '../../../gateway/src/config/notify-schema.js'
import { CarehubError } from '../../../gateway/src/core/errors.js'
import { emailWanted } from '../../../gateway/src/notify/email-sender.js'
import { tempDir } from '../../_support/temp.js'

/** notify.email as an installer writes it in YAML, and the messages they get back. */

function load(yaml: string) {
  const cwd = tempDir()
  const file = join(cwd, 'gateway.yaml')
  writeFileSync(file, yaml)
  return loadConfig({ CAREHUB_CONFIG: file }, cwd).config
}

function refused(yaml: string): string {
  try {
    load(yaml)
  } catch (err) {
    assert.ok(err instanceof CarehubError)
    assert.equal(err.code, 'CAREHUB_ERR_CONFIG_INVALID')
    return err.message
  }
  assert.fail('expected the configuration to be refused')
}

const email = (lines: string[]) => ['notify:', '  email:', ...lines.map((l) => `    ${l}`), ''].join('\n')
const complete = ['enabled: true', 'host: smtp.example.com', 'from: carehub@example.com', 'to: [anna@example.com]']

describe('notify.email', () => {
  test('absent: disabled, with the documented defaults', () => {
    const { notify } = loadConfig({}, tempDir()).config
    assert.deepEqual(notify.email, {
      enabled: false,
      port: 587,
      security: 'starttls',
      to: [],
      minSeverity: 'warning',
      timeoutMs: 10_000,
      tlsRejectUnauthorized: true,
    })
  })

  test('a complete section is accepted as written', () => {
    const c = load(email([...complete, 'port: 465', 'security: tls', 'username: carehub', 'minSeverity: critical', 'tlsRejectUnauthorized: false']))
    assert.equal(c.notify.email.host, 'smtp.example.com')
    assert.equal(c.notify.email.security, 'tls')
    assert.deepEqual(c.notify.email.to, ['anna@example.com'])
    assert.equal(c.notify.email.username, 'carehub')
  })

  test('enabled needs host, from and at least one recipient, each named', () => {
    assert.match(
      refused(email(complete.filter((l) => !l.startsWith('to:')))),
      /notify\.email\.to: at least one recipient address is required when notify\.email\.enabled is true/,
    )
    assert.match(refused(email([...complete.slice(0, 3), 'to: []'])), /notify\.email\.to: at least one recipient/)
    assert.match(refused(email(complete.filter((l) => !l.startsWith('host:')))), /notify\.email\.host: the SMTP server is required/)
    assert.match(refused(email(complete.filter((l) => !l.startsWith('from:')))), /notify\.email\.from: the sender address is required/)
    // disabled, the same gaps are fine (a section prepared for later)
    assert.equal(load(email(['enabled: false', 'host: smtp.example.com'])).notify.email.enabled, false)
  })

  test('security none is refused for a host off the box, with what to do instead', () => {
    const message = refused(email([...complete, 'security: none']))
    assert.match(message, /notify\.email\.security: "none" sends alert emails, which hold health information, unencrypted/)
    assert.match(message, /use starttls \(port 587\) or tls \(port 465\)/)
    assert.match(refused(email(['host: 192.168.1.5', 'security: none'])), /notify\.email\.security/)
  })

  test('security none is allowed for a server on the box itself', () => {
    for (const host of ['localhost', '127.0.0.1', '127.0.0.53', '::1']) {
      const c = load(email(['enabled: true', `host: "${host}"`, 'port: 25', 'security: none', 'from: carehub@example.com', 'to: [anna@example.com]']))
      assert.equal(c.notify.email.security, 'none')
    }
  })

  test('addresses and hosts are checked', () => {
    assert.match(refused(email([...complete.slice(0, 3), 'to: [anna@example.com, "not an address"]'])), /notify\.email\.to\.1: an email address/)
    assert.match(refused(email(['from: "CareHub <carehub@example.com>"'])), /notify\.email\.from: an email address/)
    assert.match(refused(email(['host: "smtp://smtp.example.com:587"'])), /notify\.email\.host: a host name or IP address/)
    assert.match(refused(email(['password: hunter2'])), /unknown key "notify\.email\.password"/)
  })

  test('isLoopbackHost', () => {
    for (const h of [
      'localhost',
      'LOCALHOST',
      'localhost.',
      'mail.localhost',
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(isLoopbackHost(h), true, h)
    }
    for (const h of ['smtp.example.com', '192.168.1.5', '10.0.0.1', '::2', 'localhost.example.com', '128.0.0.1']) {
      assert.equal(isLoopbackHost(h), false, h)
    }
  })

  test('emailWanted: enabled, and the severity at least minSeverity', () => {
    const on = EmailSchema.parse({ enabled: true, host: 'smtp.example.com', from: 'a@example.com', to: ['b@example.com'] })
    assert.deepEqual(
      (['info', 'warning', 'critical'] as const).map((s) => emailWanted(on, s)),
      [false, true, true],
    )
    assert.equal(emailWanted({ ...on, minSeverity: 'critical' }, 'warning'), false)
    assert.equal(emailWanted({ ...on, minSeverity: 'info' }, 'info'), true)
    assert.equal(emailWanted({ ...on, enabled: false }, 'critical'), false)
  })
})
