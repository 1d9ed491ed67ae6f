import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { z } from 'zod'
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../../gateway/src/config/load.js'
import { ConfigSchema } from '../../../gateway/src/config/schema.js'
import { CarehubError } from '../../../gateway/src/core/errors.js'
import { tempDir } from '../../_support/temp.js'

const EXAMPLE_PATH = fileURLToPath(new URL('../../../config/gateway.example.yaml', import.meta.url))
const JSON_SCHEMA_PATH = fileURLToPath(new URL('../../../config/gateway.schema.json', import.meta.url))

/** A fresh working folder holding `text` as `name`; returns the folder and the file's absolute path. */
function withFile(text: string, name = 'carehub.yaml'): { cwd: string; file: string } {
  const cwd = tempDir()
  const file = join(cwd, name)
  writeFileSync(file, text)
  return { cwd, file }
}

/** Run `fn`, expect a CarehubError with `code`, and return it for closer inspection. */
function expectError(fn: () => unknown, code: CarehubError['code']): CarehubError {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof CarehubError, `expected a CarehubError, got ${String(err)}`)
    assert.equal(err.code, code, `wrong code; message: ${err.message}`)
    return err
  }
  assert.fail(`expected ${code}, but loadConfig succeeded`)
}

function invalid(text: string, env: Record<string, string> = {}): CarehubError {
  const { cwd, file } = withFile(text)
  return expectError(() => loadConfig({ CAREHUB_CONFIG: file, ...env }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
}

describe('loadConfig: sources', () => {
  test('no file at all: embedded defaults, dataDir absolute against cwd, source null', () => {
    const cwd = tempDir()
    const { config, source } = loadConfig({}, cwd)
    assert.equal(source, null)
    assert.equal(config.http.port, 8443)
    assert.equal(config.mqtt.port, 8883)
    assert.equal(config.bind, '0.0.0.0')
    assert.equal(config.dataDir, join(cwd, 'data'))
    assert.equal(config.mdns.enabled, true)
    assert.equal(config.log.level, 'info')
  })

  test('a valid YAML file named by CAREHUB_CONFIG is applied', () => {
    const { cwd, file } = withFile(
      [
        'gateway:',
        '  id: gw-kitchen',
        '  name: Oma',
        '  timezone: Europe/Berlin',
        'bind: 127.0.0.1',
        'http:',
        '  port: 9443',
        '  requestTimeoutMs: 5000',
        'mqtt:',
        '  port: 9883',
        'mdns:',
        '  enabled: false',
        'log:',
        '  level: debug',
        'pki:',
        '  extraSubjectAltNames: [carehub.lan]',
        '',
      ].join('\n'),
    )
    const { config, source } = loadConfig({ CAREHUB_CONFIG: file }, cwd)
    assert.equal(source, file)
    assert.equal(config.gateway.id, 'gw-kitchen')
    assert.equal(config.gateway.name, 'Oma')
    assert.equal(config.gateway.timezone, 'Europe/Berlin')
    assert.equal(config.bind, '127.0.0.1')
    assert.equal(config.http.port, 9443)
    assert.equal(config.http.requestTimeoutMs, 5000)
    assert.equal(config.mqtt.port, 9883)
    assert.equal(config.mdns.enabled, false)
    assert.equal(config.log.level, 'debug')
    assert.deepEqual(config.pki.extraSubjectAltNames, ['carehub.lan'])
    // keys the file leaves out keep their defaults
    assert.equal(config.http.bodyLimitBytes, 1024 * 1024)
    assert.equal(config.shutdown.timeoutMs, 10_000)
  })

  test('a relative CAREHUB_CONFIG is resolved against cwd', () => {
    const cwd = tempDir()
    mkdirSync(join(cwd, 'etc'))
    writeFileSync(join(cwd, 'etc', 'box.yaml'), 'http:\n  port: 7443\n')
    const { config, source } = loadConfig({ CAREHUB_CONFIG: 'etc/box.yaml' }, cwd)
    assert.equal(source, join(cwd, 'etc', 'box.yaml'))
    assert.equal(config.http.port, 7443)
  })

  test(`${DEFAULT_CONFIG_PATH} under cwd is picked up when CAREHUB_CONFIG is unset`, () => {
    const cwd = tempDir()
    mkdirSync(join(cwd, 'config'))
    writeFileSync(join(cwd, 'config', 'gateway.yaml'), 'mqtt:\n  port: 1883\n')
    const { config, source } = loadConfig({}, cwd)
    assert.equal(source, join(cwd, 'config', 'gateway.yaml'))
    assert.equal(config.mqtt.port, 1883)
  })

  test('an explicit CAREHUB_CONFIG wins over config/gateway.yaml', () => {
    const cwd = tempDir()
    mkdirSync(join(cwd, 'config'))
    writeFileSync(join(cwd, 'config', 'gateway.yaml'), 'mqtt:\n  port: 1883\n')
    writeFileSync(join(cwd, 'other.yaml'), 'mqtt:\n  port: 2883\n')
    const { config, source } = loadConfig({ CAREHUB_CONFIG: 'other.yaml' }, cwd)
    assert.equal(source, join(cwd, 'other.yaml'))
    assert.equal(config.mqtt.port, 2883)
  })

  test('a relative dataDir in the file is resolved against cwd, not the file folder', () => {
    const cwd = tempDir()
    const elsewhere = tempDir()
    writeFileSync(join(elsewhere, 'c.yaml'), 'dataDir: ./store\n')
    const { config } = loadConfig({ CAREHUB_CONFIG: join(elsewhere, 'c.yaml') }, cwd)
    assert.equal(config.dataDir, join(cwd, 'store'))
  })

  test('an empty file means all defaults (same as no file)', () => {
    const { cwd, file } = withFile('')
    const loaded = loadConfig({ CAREHUB_CONFIG: file }, cwd)
    assert.equal(loaded.source, file)
    assert.deepEqual(loaded.config, loadConfig({}, cwd).config)
  })

  test('a file holding only comments means all defaults', () => {
    const { cwd, file } = withFile('# nothing here yet\n')
    assert.deepEqual(loadConfig({ CAREHUB_CONFIG: file }, cwd).config, loadConfig({}, cwd).config)
  })

  test('a missing CAREHUB_CONFIG file is CAREHUB_ERR_CONFIG_UNREADABLE naming the path', () => {
    const cwd = tempDir()
    const err = expectError(() => loadConfig({ CAREHUB_CONFIG: 'nope.yaml' }, cwd), 'CAREHUB_ERR_CONFIG_UNREADABLE')
    assert.match(err.message, /nope\.yaml/)
    assert.match(err.message, /no such file/)
  })
})

describe('loadConfig: validation', () => {
  test('an unknown top-level key is refused naming it', () => {
    const err = invalid('htp:\n  port: 1\n')
    assert.match(err.message, /unknown key "htp"/)
  })

  test('an unknown nested key is refused naming its full path', () => {
    const err = invalid('http:\n  prot: 1\n')
    assert.match(err.message, /"http\.prot"/)
    assert.match(err.message, /unknown key/)
  })

  test('the error message names the file it came from', () => {
    const { cwd, file } = withFile('http:\n  prot: 1\n')
    const err = expectError(() => loadConfig({ CAREHUB_CONFIG: file }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.ok(err.message.startsWith(file), err.message)
  })

  test('a wrong type names the key and what was expected', () => {
    const err = invalid('http:\n  port: abc\n')
    assert.match(err.message, /http\.port/)
    assert.match(err.message, /expected (number|int)/)
    assert.match(err.message, /received string/)
  })

  for (const bad of [0, 65536, 70000]) {
    test(`an out-of-range port (${bad}) is refused naming the key`, () => {
      const err = invalid(`mqtt:\n  port: ${bad}\n`)
      assert.match(err.message, /mqtt\.port/)
    })
  }

  test('a fractional port is refused', () => {
    assert.match(invalid('http:\n  port: 8443.5\n').message, /http\.port/)
  })

  test('an invalid time zone is refused naming gateway.timezone', () => {
    const err = invalid('gateway:\n  timezone: Mars/Olympus_Mons\n')
    assert.match(err.message, /gateway\.timezone/)
    assert.match(err.message, /IANA time zone/)
  })

  test('a valid IANA time zone is accepted', () => {
    const { cwd, file } = withFile('gateway:\n  timezone: America/New_York\n')
    assert.equal(loadConfig({ CAREHUB_CONFIG: file }, cwd).config.gateway.timezone, 'America/New_York')
  })

  for (const id of ['Bad ID', 'UPPER', '-leading-dash', 'a'.repeat(65), '']) {
    test(`an invalid gateway.id (${JSON.stringify(id.length > 10 ? `${id.slice(0, 10)}…` : id)}) is refused`, () => {
      const err = invalid(`gateway:\n  id: ${JSON.stringify(id)}\n`)
      assert.match(err.message, /gateway\.id/)
    })
  }

  test('a gateway.id of 64 allowed characters is accepted', () => {
    const id = `g${'a_-1'.repeat(15)}xyz`
    assert.equal(id.length, 64)
    const { cwd, file } = withFile(`gateway:\n  id: ${id}\n`)
    assert.equal(loadConfig({ CAREHUB_CONFIG: file }, cwd).config.gateway.id, id)
  })

  test('every problem is reported, not only the first', () => {
    const err = invalid('http:\n  port: abc\nmqtt:\n  port: 0\n')
    assert.match(err.message, /http\.port/)
    assert.match(err.message, /mqtt\.port/)
    const issues = (err.details as { issues: Array<{ path: string }> }).issues.map((i) => i.path)
    assert.deepEqual(issues.sort(), ['http.port', 'mqtt.port'])
  })

  test('a YAML syntax error names the line', () => {
    const err = invalid('http:\n  port: 8443\nmqtt:\n\tport: 8883\n')
    assert.match(err.message, /not valid YAML/)
    assert.match(err.message, /line 4\b/)
  })

  test('a YAML syntax error on another line names that line', () => {
    const err = invalid('a: 1\nb: 2\nc: d: e\n')
    assert.match(err.message, /line 3\b/)
  })

  test('a duplicate key is refused as invalid YAML', () => {
    const err = invalid('http:\n  port: 1\n  port: 2\n')
    assert.match(err.message, /not valid YAML at line 3/)
  })

  test('a top level that is not a mapping is refused', () => {
    assert.match(invalid('- just\n- a list\n').message, /top level/)
  })

  test('a section whose keys are all commented out (`gateway:` followed by comments only) keeps the defaults', () => {
    const { cwd, file } = withFile('gateway:\n  # name: CareHub\nhttp:\n  port: 9443\n')
    const { config } = loadConfig({ CAREHUB_CONFIG: file }, cwd)
    assert.equal(config.gateway.name, 'CareHub')
    assert.equal(config.http.port, 9443)
  })
})

describe('loadConfig: environment overrides', () => {
  const FILE = [
    'dataDir: ./from-file',
    'bind: 127.0.0.2',
    'http:',
    '  port: 9000',
    '  requestTimeoutMs: 5000',
    'mqtt:',
    '  port: 9001',
    'mdns:',
    '  enabled: true',
    'log:',
    '  level: warn',
    '',
  ].join('\n')

  test('CAREHUB_* variables win over the file; other keys of the file stay', () => {
    const { cwd, file } = withFile(FILE)
    const { config } = loadConfig(
      {
        CAREHUB_CONFIG: file,
        CAREHUB_HTTP_PORT: '10443',
        CAREHUB_MQTT_PORT: '10883',
        CAREHUB_BIND: '127.0.0.1',
        CAREHUB_DATA_DIR: 'from-env',
        CAREHUB_MDNS: 'off',
        CAREHUB_LOG_LEVEL: 'trace',
      },
      cwd,
    )
    assert.equal(config.http.port, 10443)
    assert.equal(config.mqtt.port, 10883)
    assert.equal(config.bind, '127.0.0.1')
    assert.equal(config.dataDir, join(cwd, 'from-env'))
    assert.equal(config.mdns.enabled, false)
    assert.equal(config.log.level, 'trace')
    assert.equal(config.http.requestTimeoutMs, 5000)
  })

  test('without the variables, the file values are used (the override test above is not vacuous)', () => {
    const { cwd, file } = withFile(FILE)
    const { config } = loadConfig({ CAREHUB_CONFIG: file }, cwd)
    assert.equal(config.http.port, 9000)
    assert.equal(config.mqtt.port, 9001)
    assert.equal(config.bind, '127.0.0.2')
    assert.equal(config.dataDir, join(cwd, 'from-file'))
    assert.equal(config.mdns.enabled, true)
    assert.equal(config.log.level, 'warn')
  })

  test('overrides apply on top of embedded defaults too', () => {
    const cwd = tempDir()
    const { config, source } = loadConfig({ CAREHUB_HTTP_PORT: '8080', CAREHUB_MDNS: 'off' }, cwd)
    assert.equal(source, null)
    assert.equal(config.http.port, 8080)
    assert.equal(config.mdns.enabled, false)
  })

  test('an absolute CAREHUB_DATA_DIR is kept as is', () => {
    const cwd = tempDir()
    const abs = tempDir()
    assert.equal(loadConfig({ CAREHUB_DATA_DIR: abs }, cwd).config.dataDir, abs)
  })

  test('an empty variable is ignored', () => {
    const cwd = tempDir()
    assert.equal(loadConfig({ CAREHUB_HTTP_PORT: '' }, cwd).config.http.port, 8443)
  })

  for (const [raw, expected] of [
    ['on', true],
    ['ON', true],
    ['true', true],
    ['1', true],
    ['yes', true],
    ['off', false],
    ['Off', false],
    ['false', false],
    ['0', false],
    ['no', false],
  ] as const) {
    test(`CAREHUB_MDNS=${raw} → mdns.enabled ${expected}`, () => {
      const { cwd, file } = withFile(`mdns:\n  enabled: ${!expected}\n`)
      assert.equal(loadConfig({ CAREHUB_CONFIG: file, CAREHUB_MDNS: raw }, cwd).config.mdns.enabled, expected)
    })
  }

  test('CAREHUB_HTTP_PORT=abc is refused naming the variable', () => {
    const cwd = tempDir()
    const err = expectError(() => loadConfig({ CAREHUB_HTTP_PORT: 'abc' }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.match(err.message, /CAREHUB_HTTP_PORT/)
    assert.match(err.message, /"abc"/)
  })

  test('CAREHUB_MQTT_PORT=-1 is refused naming the variable', () => {
    const cwd = tempDir()
    const err = expectError(() => loadConfig({ CAREHUB_MQTT_PORT: '-1' }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.match(err.message, /CAREHUB_MQTT_PORT/)
  })

  test('CAREHUB_MDNS=maybe is refused naming the variable', () => {
    const cwd = tempDir()
    const err = expectError(() => loadConfig({ CAREHUB_MDNS: 'maybe' }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.match(err.message, /CAREHUB_MDNS/)
    assert.match(err.message, /"maybe"/)
  })

  test('CAREHUB_LOG_LEVEL=loud is refused naming the variable or the key', () => {
    const cwd = tempDir()
    const err = expectError(() => loadConfig({ CAREHUB_LOG_LEVEL: 'loud' }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.match(err.message, /CAREHUB_LOG_LEVEL|log\.level/)
  })

  test('CAREHUB_HTTP_PORT=70000 is refused naming the variable or the key', () => {
    const cwd = tempDir()
    const err = expectError(() => loadConfig({ CAREHUB_HTTP_PORT: '70000' }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.match(err.message, /CAREHUB_HTTP_PORT|http\.port/)
  })

  test('an env value the schema refuses (port out of range, unknown log level) is reported by the variable name', () => {
    const { cwd, file } = withFile('http:\n  port: 9000\n')
    const port = expectError(() => loadConfig({ CAREHUB_CONFIG: file, CAREHUB_HTTP_PORT: '70000' }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.match(port.message, /CAREHUB_HTTP_PORT/)
    const level = expectError(() => loadConfig({ CAREHUB_CONFIG: file, CAREHUB_LOG_LEVEL: 'loud' }, cwd), 'CAREHUB_ERR_CONFIG_INVALID')
    assert.match(level.message, /CAREHUB_LOG_LEVEL/)
  })

  test('an override into a section the file set to a non-mapping is refused naming section and variable', () => {
    const err = invalid('http: 5\n', { CAREHUB_HTTP_PORT: '9443' })
    assert.match(err.message, /http/)
    assert.match(err.message, /CAREHUB_HTTP_PORT/)
  })
})

describe('loadConfig: result', () => {
  test('the config is deep-frozen', () => {
    const cwd = tempDir()
    const { config } = loadConfig({}, cwd)
    assert.ok(Object.isFrozen(config))
    assert.throws(() => {
      config.http.port = 1
    }, TypeError)
    assert.throws(() => {
      ;(config as { bind: string }).bind = '127.0.0.1'
    }, TypeError)
    assert.throws(() => {
      ;(config.pki.extraSubjectAltNames as string[]).push('evil.example')
    }, TypeError)
    assert.equal(config.http.port, 8443)
    assert.equal(config.bind, '0.0.0.0')
    assert.deepEqual(config.pki.extraSubjectAltNames, [])
  })

  test('two loads do not share state (freezing one does not leak defaults between calls)', () => {
    const a = withFile('pki:\n  extraSubjectAltNames: [a.lan]\n')
    const first = loadConfig({ CAREHUB_CONFIG: a.file }, a.cwd).config
    const second = loadConfig({}, tempDir()).config
    assert.deepEqual(first.pki.extraSubjectAltNames, ['a.lan'])
    assert.deepEqual(second.pki.extraSubjectAltNames, [])
  })
})

/** Leaf key paths of a JSON schema object ("http.port", …). */
function leafPaths(schema: Record<string, unknown>, prefix = ''): string[] {
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined
  if (!properties) return [prefix]
  return Object.entries(properties).flatMap(([key, sub]) => leafPaths(sub, prefix ? `${prefix}.${key}` : key))
}

function hasPath(value: unknown, path: string): boolean {
  let node = value
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return false
    node = (node as Record<string, unknown>)[key]
  }
  return true
}

describe('config/gateway.example.yaml', () => {
  test('validates as it ships, and its values are the embedded defaults', () => {
    const cwd = tempDir()
    const { config, source } = loadConfig({ CAREHUB_CONFIG: EXAMPLE_PATH }, cwd)
    assert.equal(source, EXAMPLE_PATH)
    assert.deepEqual(config, loadConfig({}, cwd).config)
  })

  test('documents every key of the schema (commented-out examples included), and those examples validate', () => {
    const text = readFileSync(EXAMPLE_PATH, 'utf8')
    // "  # id: gw-kitchen" → "  id: gw-kitchen", "# influx:" → "influx:"; prose comments have no bare
    // `word:` at their start.
    const uncommented = text.replace(/^(\s*)# ([A-Za-z][A-Za-z0-9]*:(?: .*)?)$/gm, '$1$2')
    assert.notEqual(uncommented, text, 'expected some commented-out example keys')
    const doc = parse(uncommented) as unknown
    const jsonSchema = z.toJSONSchema(ConfigSchema, { io: 'input' }) as Record<string, unknown>
    const missing = leafPaths(jsonSchema).filter((p) => !hasPath(doc, p))
    assert.deepEqual(missing, [], `keys not documented in gateway.example.yaml: ${missing.join(', ')}`)
    const { cwd, file } = withFile(uncommented)
    assert.doesNotThrow(() => loadConfig({ CAREHUB_CONFIG: file }, cwd))
  })
})

describe('config/gateway.schema.json', () => {
  test('equals the JSON schema generated from ConfigSchema (run `npm run schema` after changing schema.ts)', () => {
    const expected = `${JSON.stringify(z.toJSONSchema(ConfigSchema, { io: 'input' }), null, 2)}\n`
    // assert.ok, not assert.equal: node's diff of two long, slightly different strings runs for minutes.
    assert.ok(readFileSync(JSON_SCHEMA_PATH, 'utf8') === expected, 'config/gateway.schema.json is stale: run `npm run schema`')
  })
})

describe('loadConfig: review regressions', () => {
  test('an unknown top-level key with no value is still an unknown key', () => {
    assert.match(invalid('influxdb:\n').message, /unknown key "influxdb"/)
  })

  test('a known scalar left empty is an error, not a silent default', () => {
    assert.match(invalid('dataDir:\n').message, /dataDir/)
  })

  test('bind must be an IP address (a host name typo used to exit 70 and restart-loop)', () => {
    assert.match(invalid('bind: 0.0.0.O\n').message, /bind: an IP address/)
    assert.match(expectError(() => loadConfig({ CAREHUB_BIND: 'localhst' }, tempDir()), 'CAREHUB_ERR_CONFIG_INVALID').message, /bind/)
    const { cwd, file } = withFile('bind: "::1"\n')
    assert.equal(loadConfig({ CAREHUB_CONFIG: file }, cwd).config.bind, '::1')
  })

  test('there is no option that serves /metrics to the LAN without authentication', () => {
    assert.match(invalid('http:\n  metricsFromLoopbackOnly: false\n').message, /unknown key "http\.metricsFromLoopbackOnly"/)
  })
})
