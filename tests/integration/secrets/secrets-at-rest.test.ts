import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { runCli } from '../../../gateway/src/cli/run.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { httpsJson } from '../../_support/https-get.js'
import { tempDir } from '../../_support/temp.js'
import { startVictoriaMetrics, tsdbAvailable } from '../../_support/tsdb-servers.js'

const INFLUX_TOKEN = 'influx-token-PLAINTEXT-7c1e0b9d'
const WEBHOOK_SECRET = 'webhook-secret-PLAINTEXT-3a8f2e61'
const ROTATED = 'webhook-secret-PLAINTEXT-ROTATED-55aa'
const HA_TOKEN = 'ha-long-lived-PLAINTEXT-eyJhbGciOi'
const THINQ_PAT = 'thinq-pat-PLAINTEXT-0b7c55e1d2'

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

describe('secrets at rest', { skip: !tsdbAvailable().vm && 'victoria-metrics is not installed' }, () => {
  test('set through `carehub secret set` (stdin), used by the running gateway, never in plaintext in the data folder, the CLI output or the logs', async () => {
    const vm = await startVictoriaMetrics()
    const h = await startGateway({
      log: { level: 'debug' },
      influx: { version: 2, url: vm.url, pollMs: 20 },
      homeassistant: { enabled: true, webhook: { clients: [{ id: 'ha-main' }] } },
    })
    const out: string[] = []
    const cli = (argv: string[], stdin = '') =>
      runCli(argv, {
        env: { CAREHUB_DATA_DIR: h.dataDir },
        cwd: tempDir(),
        stdout: (t) => void out.push(t),
        stderr: (t) => void out.push(t),
        stdin: async () => stdin,
        now: () => Date.now(),
      })
    assert.equal(await cli(['secret', 'set', 'influx.token'], `${INFLUX_TOKEN}\n`), 0)
    assert.equal(await cli(['secret', 'set', 'ha-webhook.ha-main'], WEBHOOK_SECRET), 0)
    assert.equal(await cli(['secret', 'set', 'ha-webhook.ha-main', '--grace', '1h'], ROTATED), 0)
    assert.equal(await cli(['secret', 'set', 'homeassistant.token'], HA_TOKEN), 0)
    assert.equal(await cli(['secret', 'set', 'thinq.pat'], THINQ_PAT), 0)
    assert.equal(await cli(['secret', 'list']), 0)
    assert.equal(await cli(['secret', 'set', 'Bad Name'], 'x'), 65)
    assert.equal(await cli(['secret', 'set', 'influx.token'], ''), 65)
    assert.match(out.join(''), /ha-webhook\.ha-main {2}version 2 .*previous value valid until/)

    // The running gateway uses them: the webhook accepts both the rotated and the previous secret.
    for (const secret of [WEBHOOK_SECRET, ROTATED]) {
      const body = { entity_id: 'switch.kettle', state: 'on', last_updated: new Date().toISOString() }
      const ts = Math.floor(Date.now() / 1000)
      const sig = createHmac('sha256', secret)
        .update(`${ts}.${JSON.stringify(body)}`)
        .digest('hex')
      const res = await httpsJson('POST', `https://127.0.0.1:${h.httpPort}/api/ingest/ha/ha-main`, h.gateway.pki.ca.certPem, body, {
        'x-client-id': 'ha-main',
        'x-timestamp': String(ts),
        'x-signature': `sha256=${sig}`,
      })
      assert.equal(res.status, 200, JSON.stringify(res.body))
    }
    assert.equal(await h.gateway.secrets.get('influx.token'), INFLUX_TOKEN)
    await new Promise((r) => setTimeout(r, 300)) // the forwarder writes with the token meanwhile
    h.gateway.store.db.pragma('wal_checkpoint(PASSIVE)')

    const plaintexts = [INFLUX_TOKEN, WEBHOOK_SECRET, ROTATED, HA_TOKEN, THINQ_PAT]
    for (const file of filesUnder(h.dataDir)) {
      const bytes = readFileSync(file)
      for (const p of plaintexts) assert.equal(bytes.includes(p), false, `${p} found in ${file}`)
    }
    const logs = JSON.stringify(h.lines())
    const cliText = out.join('')
    for (const p of plaintexts) {
      assert.equal(logs.includes(p), false, `${p} found in the logs`)
      assert.equal(cliText.includes(p), false, `${p} found in the CLI output`)
    }
    // What is stored is age ciphertext, and the audit log names the change without the value.
    const stored = h.gateway.store.db.prepare("SELECT value_enc FROM secrets WHERE name = 'influx.token'").pluck().get() as string
    assert.match(stored, /^-----BEGIN AGE ENCRYPTED FILE-----/)
    const audit = h.gateway.store.db.prepare("SELECT action, target FROM audit_log WHERE action LIKE 'secret.%' ORDER BY id").all()
    assert.deepEqual(audit.slice(0, 3), [
      { action: 'secret.set', target: 'secret:influx.token' },
      { action: 'secret.set', target: 'secret:ha-webhook.ha-main' },
      { action: 'secret.set', target: 'secret:ha-webhook.ha-main' },
    ])
    assert.equal(await cli(['secret', 'delete', 'influx.token']), 0)
    // CONTRACT: what the command changes reaches a running daemon within 2 s (values are cached 1 s).
    await new Promise((r) => setTimeout(r, 1100))
    assert.equal(await h.gateway.secrets.get('influx.token'), undefined)
  })
})
