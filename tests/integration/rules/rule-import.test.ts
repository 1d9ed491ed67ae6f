import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parse, stringify } from 'yaml'
import { importRules } from '../../../gateway/src/rules/rule-import.js'
import { RuleSchema } from '../../../gateway/src/rules/rule-model.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { getRule, listRules, putRule } from '../../../gateway/src/store/rules.js'
import { api } from '../../_support/api-client.js'
import { REPO_ROOT } from '../../_support/daemon.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

const EXAMPLE = join(REPO_ROOT, 'config/rules.example.yaml')
const NOW = Date.parse('2026-11-27T10:00:00Z')

function store() {
  const { log } = captureLogger()
  return openStore({ path: join(tempDir(), 'rules.db'), log, now: NOW, checkIntegrity: false })
}

describe('config/rules.yaml import', () => {
  test('the example file is valid and imports every rule; a second import changes nothing', () => {
    const db = store()
    const first = importRules(db, EXAMPLE, NOW)
    assert.deepEqual(first.added, [
      'front-door-open-at-night',
      'no-kitchen-movement-by-ten',
      'fall-detected',
      'fridge-power-lost',
      'bedroom-cold',
      'door-sensor-silent',
    ])
    assert.ok(listRules(db).every((r) => r.origin === 'yaml' && r.version === 1))
    assert.deepEqual(importRules(db, EXAMPLE, NOW + 1), { added: [], changed: [], removed: [], clashes: [] })
  })

  test('the README shows the example rules exactly as config/rules.example.yaml has them', () => {
    const file = readFileSync(EXAMPLE, 'utf8')
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
    assert.ok(
      readme.includes(file.slice(file.indexOf('rules:')).trimEnd()),
      'README "Rules and alerts" is out of date: copy config/rules.example.yaml',
    )
  })

  test('the file is the truth for its rules: a changed rule gets a new version, a rule taken out is removed, API rules stay', () => {
    const db = store()
    const path = join(tempDir(), 'rules.yaml')
    const doc = parse(readFileSync(EXAMPLE, 'utf8')) as { rules: Array<Record<string, unknown>> }
    writeFileSync(path, stringify(doc))
    importRules(db, path, NOW)
    putRule(
      db,
      RuleSchema.parse({ id: 'mine', name: 'Mine', when: { time: { days: ['sun'] } }, actions: [{ alert: { severity: 'info', title: 'Sunday' } }] }),
      'api',
      NOW,
    )
    const [first, , ...rest] = doc.rules
    writeFileSync(path, stringify({ rules: [{ ...first, cooldown: '45m' }, ...rest] }))
    const report = importRules(db, path, NOW + 1)
    assert.deepEqual(report, { added: [], changed: ['front-door-open-at-night'], removed: ['no-kitchen-movement-by-ten'], clashes: [] })
    const byId = new Map(listRules(db).map((r) => [r.rule.id, r]))
    assert.equal(byId.get('front-door-open-at-night')?.version, 2)
    assert.equal(byId.get('mine')?.origin, 'api')
    // A file rule with the id of a panel rule is left out and reported; the import (and the start) goes on.
    writeFileSync(
      path,
      stringify({
        rules: [{ id: 'mine', name: 'From the file', when: { time: { days: ['mon'] } }, actions: [{ alert: { severity: 'info', title: 'x' } }] }],
      }),
    )
    const clash = importRules(db, path, NOW + 2)
    assert.deepEqual(clash.clashes, ['mine'])
    assert.equal(getRule(db, 'mine')?.rule.name, 'Mine')
  })

  test('a bad file is refused with where and why, and nothing of it is imported', () => {
    const db = store()
    const path = join(tempDir(), 'rules.yaml')
    writeFileSync(
      path,
      'rules:\n  - id: x\n    name: X\n    when: { threshold: { device: d, measurement: m, field: f, op: ">" } }\n    actions: []\n',
    )
    assert.throws(
      () => importRules(db, path, NOW),
      (err: Error & { code?: string }) => err.code === 'CAREHUB_ERR_CONFIG_INVALID' && /rules\.0\.(when|actions)/.test(err.message),
    )
    writeFileSync(path, 'rules:\n  - id: x\n    name: [unclosed\n')
    assert.throws(() => importRules(db, path, NOW), /not valid YAML at line/)
    writeFileSync(
      path,
      stringify({
        rules: [1, 2].map(() => ({
          id: 'twice',
          name: 'T',
          when: { time: { days: ['mon'] } },
          actions: [{ alert: { severity: 'info', title: 't' } }],
        })),
      }),
    )
    assert.throws(() => importRules(db, path, NOW), /"twice" appears twice/)
    assert.equal(listRules(db).length, 0)
  })

  test('rules from the file are read-only through the API', async () => {
    const h = await startGateway({ automations: { rulesFile: EXAMPLE } })
    await h.addUser('anna', 'caregiver')
    const t = (await h.login('anna')).accessToken
    const list = (await api(h, 'GET', '/api/automations', undefined, t)).body as Array<{ id: string; origin: string; status: unknown }>
    assert.equal(list.length, 6)
    assert.ok(
      list.every((r) => r.origin === 'yaml' && r.status !== null),
      'all running',
    )
    const put = await api(
      h,
      'PUT',
      '/api/automations/fall-detected',
      { name: 'x', when: { time: { days: ['mon'] } }, actions: [{ alert: { severity: 'info', title: 'x' } }] },
      t,
    )
    assert.equal(put.status, 409)
    assert.match(JSON.stringify(put.body), /comes from the rules file/)
    assert.equal((await api(h, 'DELETE', '/api/automations/fall-detected', undefined, t)).status, 409)
  })
})
