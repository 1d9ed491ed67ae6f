import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { ConfigSchema } from '../../../gateway/src/config/schema.js'
import { ERRORS } from '../../../gateway/src/core/errors.js'

const UNIT = new URL('../../../config/systemd/carehub.service', import.meta.url)
const text = readFileSync(UNIT, 'utf8')
const directive = (name: string) => text.match(new RegExp(`^${name}=(.*)$`, 'm'))?.[1]

describe('config/systemd/carehub.service', () => {
  test('systemd itself accepts the unit', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'])
    if (probe.error) return t.skip('systemd-analyze is not installed')
    const r = spawnSync('systemd-analyze', ['verify', UNIT.pathname], { encoding: 'utf8' })
    // "Unit carehub.service ... User carehub does not exist" would be fine on a dev box; syntax errors are not.
    assert.doesNotMatch(`${r.stdout}${r.stderr}`, /Unknown (key|section)|Failed to parse|Invalid/i, r.stderr)
  })

  test('is a notify service with a watchdog, hardened, with a dedicated user and only the data folder writable', () => {
    assert.equal(directive('Type'), 'notify')
    assert.ok(Number(directive('WatchdogSec')) > 0)
    assert.equal(directive('NoNewPrivileges'), 'yes')
    assert.equal(directive('ProtectSystem'), 'strict')
    assert.equal(directive('PrivateTmp'), 'yes')
    assert.equal(directive('User'), 'carehub')
    const dataDir = directive('Environment=CAREHUB_DATA_DIR')
    assert.ok(dataDir)
    assert.equal(directive('ReadWritePaths'), dataDir)
  })

  test('systemd waits longer than the daemon’s own stop deadline before SIGKILL', () => {
    const daemonDeadlineMs = ConfigSchema.parse({}).shutdown.timeoutMs
    assert.ok(Number(directive('TimeoutStopSec')) * 1000 > daemonDeadlineMs)
  })

  test('does not restart-loop on the exit codes that need a person (config, data folder, corrupt store)', () => {
    const prevented = new Set((directive('RestartPreventExitStatus') ?? '').split(/\s+/).map(Number))
    for (const code of ['CAREHUB_ERR_CONFIG_INVALID', 'CAREHUB_ERR_DATA_DIR', 'CAREHUB_ERR_STORE_CORRUPT', 'CAREHUB_ERR_ALREADY_RUNNING'] as const) {
      assert.ok(prevented.has(ERRORS[code].exit), `${code} (exit ${ERRORS[code].exit}) is in RestartPreventExitStatus`)
    }
    // A crash (1) and an overrun stop (70) must still be restarted.
    assert.ok(!prevented.has(1) && !prevented.has(70))
  })
})
