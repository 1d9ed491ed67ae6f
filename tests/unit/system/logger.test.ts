import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { DestinationStream } from 'pino'
import { createLogger, type LoggerOptions, REDACT_PATHS } from '../../../gateway/src/system/logger.js'

type Line = Record<string, unknown>
type ErrorReport = Parameters<NonNullable<LoggerOptions['onError']>>[0]

function capture(options: Partial<LoggerOptions> = {}) {
  const raw: string[] = []
  const reports: ErrorReport[] = []
  const destination: DestinationStream = { write: (line: string) => void raw.push(line) }
  const log = createLogger({ level: 'trace', destination, onError: (r) => void reports.push(r), ...options })
  return {
    log,
    raw: () => raw.join(''),
    lines: () => raw.map((l) => JSON.parse(l) as Line),
    reports,
  }
}

/** `req.headers["x-signature"]` → ['req', 'headers', 'x-signature']; `*` becomes a concrete key. */
function splitPath(path: string): string[] {
  return [...path.matchAll(/\["([^"]+)"\]|([^.[\]]+)/g)].map((m) => {
    const key = (m[1] ?? m[2]) as string
    return key === '*' ? 'anything' : key
  })
}

function build(keys: readonly string[], leaf: unknown): Record<string, unknown> {
  return keys.reduceRight<unknown>((inner, key) => ({ [key]: inner }), leaf) as Record<string, unknown>
}

function at(value: unknown, keys: readonly string[]): unknown {
  return keys.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value)
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

describe('createLogger: line format', () => {
  test('one JSON object per line, level as a label, ISO UTC time, base bindings', () => {
    const { log, raw, lines } = capture({ gatewayId: 'gw-test' })
    const before = Date.now()
    log.info({ a: 1 }, 'hello')
    log.warn('careful')
    const after = Date.now()
    assert.equal(raw().split('\n').filter(Boolean).length, 2)
    assert.ok(raw().endsWith('\n'))
    const [first, second] = lines()
    assert.equal(first?.level, 'info')
    assert.equal(second?.level, 'warn')
    assert.equal(first?.msg, 'hello')
    assert.equal(first?.a, 1)
    assert.equal(first?.svc, 'carehub')
    assert.equal(first?.gw, 'gw-test')
    assert.match(String(first?.time), ISO_UTC)
    const t = Date.parse(String(first?.time))
    assert.ok(t >= before - 1 && t <= after + 1, `time ${first?.time} not within the call`)
  })

  test('no gw binding without a gateway id', () => {
    const { log, lines } = capture()
    log.info('x')
    assert.equal(Object.hasOwn(lines()[0] ?? {}, 'gw'), false)
  })

  test('lines below the level are not written', () => {
    const { log, lines } = capture({ level: 'warn' })
    log.debug('d')
    log.info('i')
    log.warn('w')
    assert.deepEqual(
      lines().map((l) => l.msg),
      ['w'],
    )
  })
})

describe('createLogger: redaction', () => {
  for (const path of REDACT_PATHS) {
    test(`redacts ${path}`, () => {
      const { log, raw, lines } = capture()
      const secret = `s3cr3t-${path.length}-value`
      const keys = splitPath(path)
      log.info(build(keys, secret), 'with a secret')
      assert.equal(at(lines()[0], keys), '[REDACTED]', raw())
      assert.equal(raw().includes(secret), false)
    })
  }

  const shapes: Array<[string, (s: string) => Record<string, unknown>]> = [
    ['{ password }', (s) => ({ password: s })],
    ['{ user: { password } }', (s) => ({ user: { password: s } })],
    ['{ req: { headers: { authorization } } }', (s) => ({ req: { headers: { authorization: `Bearer ${s}`, accept: 'text/html' } } })],
    ['{ config: { influx: { token } } }', (s) => ({ config: { influx: { token: s, url: 'http://influx' } } })],
    ['{ body: { newPassword, totpCode } }', (s) => ({ body: { newPassword: s, totpCode: s } })],
  ]
  for (const [name, shape] of shapes) {
    test(`the secret in ${name} never reaches the output; other fields do`, () => {
      const { log, raw } = capture()
      const secret = 'hunter2-do-not-log'
      log.info(shape(secret), 'shape')
      assert.equal(raw().includes(secret), false, raw())
      assert.match(raw(), /\[REDACTED\]/)
      assert.match(raw(), /"msg":"shape"/)
    })
  }

  test('non-secret siblings survive redaction', () => {
    const { log, lines } = capture()
    log.info({ req: { headers: { authorization: 'Bearer x', accept: 'text/html' } }, user: { name: 'anna', password: 'x' } }, 'm')
    const line = lines()[0]
    assert.equal(at(line, ['req', 'headers', 'accept']), 'text/html')
    assert.equal(at(line, ['user', 'name']), 'anna')
  })

  test('documented limit: `*.password` covers one level only — a.b.password is NOT redacted', () => {
    // logger.ts says so on purpose (pino wildcards match one level); if this starts failing, the
    // limit is gone and this test and the REDACT_PATHS comment can be updated.
    const { log, lines } = capture()
    log.info({ a: { b: { password: 'deep-secret' } } }, 'deep')
    assert.equal(at(lines()[0], ['a', 'b', 'password']), 'deep-secret')
  })

  test('child loggers inherit redaction, for their bindings and their lines', () => {
    const { log, raw, lines } = capture()
    const child = log.child({ module: 'auth', token: 'binding-secret' }).child({ sub: 'x' })
    child.info({ user: { password: 'line-secret' }, secret: 'top-secret' }, 'child line')
    assert.equal(raw().includes('binding-secret'), false, raw())
    assert.equal(raw().includes('line-secret'), false, raw())
    assert.equal(raw().includes('top-secret'), false, raw())
    const line = lines()[0]
    assert.equal(line?.module, 'auth')
    assert.equal(line?.token, '[REDACTED]')
    assert.equal(at(line, ['user', 'password']), '[REDACTED]')
  })
})

describe('createLogger: onError', () => {
  test('called for error lines with the module binding and the message, including err.message', () => {
    const { log, reports } = capture()
    log.child({ module: 'store' }).error({ err: new Error('disk full') }, 'write failed')
    assert.deepEqual(reports, [{ module: 'store', message: 'write failed: disk full' }])
  })

  test('called for fatal lines; module undefined on the root logger', () => {
    const { log, reports } = capture()
    log.fatal('start-up failed')
    assert.deepEqual(reports, [{ module: undefined, message: 'start-up failed' }])
  })

  test('called with the plain message when there is no err', () => {
    const { log, reports } = capture()
    log.child({ module: 'watchdog' }).error({ checks: 3 }, 'not pinging')
    assert.deepEqual(reports, [{ module: 'watchdog', message: 'not pinging' }])
  })

  test('a grandchild still reports the module binding', () => {
    const { log, reports } = capture()
    log.child({ module: 'api' }).child({ reqId: 'r1' }).error('request failed')
    assert.deepEqual(reports, [{ module: 'api', message: 'request failed' }])
  })

  test('not called for warn, info, debug or trace', () => {
    const { log, reports, lines } = capture()
    const child = log.child({ module: 'm' })
    child.warn({ err: new Error('not an error line') }, 'w')
    child.info('i')
    child.debug('d')
    child.trace('t')
    assert.equal(lines().length, 4)
    assert.deepEqual(reports, [])
  })

  test('the error line is still written, with its err serialized', () => {
    const { log, lines, reports } = capture()
    log.error({ err: new Error('boom') }, 'failed')
    assert.equal(reports.length, 1)
    const line = lines()[0]
    assert.equal(line?.level, 'error')
    assert.equal(line?.msg, 'failed')
    assert.equal((line?.err as { message?: string } | undefined)?.message, 'boom')
  })

  test('works without an onError callback', () => {
    const raw: string[] = []
    const log = createLogger({ level: 'info', destination: { write: (l: string) => void raw.push(l) } })
    assert.doesNotThrow(() => log.error({ err: new Error('x') }, 'no callback'))
    assert.equal(raw.length, 1)
  })
})
