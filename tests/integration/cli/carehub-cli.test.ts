import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { verifyPassword } from '../../../gateway/src/auth/password.js'
import { runCli } from '../../../gateway/src/cli/run.js'
import type { StatusReport } from '../../../gateway/src/cli/status.js'
import { isReadyLine, REPO_ROOT, spawnDaemon } from '../../_support/daemon.js'
import { tempDir } from '../../_support/temp.js'

async function cli(args: string[], env: Record<string, string>, stdin = '') {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    env,
    cwd: tempDir('carehub-cli-cwd-'),
    stdout: (t) => {
      stdout += t
    },
    stderr: (t) => {
      stderr += t
    },
    stdin: async () => stdin,
    now: () => Date.parse('2026-11-27T10:00:00Z'),
  })
  return { code, stdout, stderr }
}

describe('carehub user add', () => {
  test('adds a user with an argon2id hash and an audit entry', async () => {
    const data = join(tempDir(), 'data')
    const r = await cli(['user', 'add', 'alice', '--role', 'caregiver', '--password-stdin'], { CAREHUB_DATA_DIR: data }, 'correct horse battery\n')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /user "alice" added with role caregiver/)
    const db = new Database(join(data, 'carehub.db'), { readonly: true })
    const row = db.prepare("SELECT role, password_hash FROM users WHERE username = 'alice'").get() as { role: string; password_hash: string }
    assert.equal(row.role, 'caregiver')
    assert.match(row.password_hash, /^\$argon2id\$/)
    // Exactly one trailing newline is stripped from stdin; the password is what was typed.
    assert.equal(await verifyPassword(row.password_hash, 'correct horse battery'), true)
    const audit = db.prepare("SELECT actor, action, detail FROM audit_log WHERE action = 'user.create'").get() as { actor: string; detail: string }
    assert.equal(audit.actor, 'cli')
    assert.doesNotMatch(audit.detail, /horse/)
    db.close()
  })

  test('a wrong role is refused with the valid roles and exit code 65, nothing stored', async () => {
    const data = join(tempDir(), 'data')
    const r = await cli(['user', 'add', 'bob', '--role', 'boss', '--password-stdin'], { CAREHUB_DATA_DIR: data }, 'correct horse battery')
    assert.equal(r.code, 65)
    assert.equal(r.stderr, 'carehub: unknown role "boss": choose one of admin, caregiver, installer, viewer\n')
    assert.equal(r.stdout, '')
  })

  test('usage errors exit 64: no --password-stdin, no username, unknown option, unknown command', async () => {
    const env = { CAREHUB_DATA_DIR: join(tempDir(), 'data') }
    const noStdin = await cli(['user', 'add', 'bob', '--role', 'viewer'], env)
    assert.equal(noStdin.code, 64)
    assert.match(noStdin.stderr, /--password-stdin/)
    assert.equal((await cli(['user', 'add', '--role', 'viewer', '--password-stdin'], env)).code, 64)
    assert.equal((await cli(['user', 'add', 'bob', '--rolez', 'viewer'], env)).code, 64)
    const unknown = await cli(['device', 'frob'], env)
    assert.equal(unknown.code, 64)
    assert.match(unknown.stderr, /unknown command "device frob"/)
  })

  test('a duplicate username, a common password and a bad username are refused (65)', async () => {
    const env = { CAREHUB_DATA_DIR: join(tempDir(), 'data') }
    assert.equal((await cli(['user', 'add', 'carol', '--role', 'viewer', '--password-stdin'], env, 'a long passphrase')).code, 0)
    const dup = await cli(['user', 'add', 'CAROL', '--role', 'admin', '--password-stdin'], env, 'another passphrase')
    assert.equal(dup.code, 65)
    assert.match(dup.stderr, /already exists/)
    const common = await cli(['user', 'add', 'dave', '--role', 'viewer', '--password-stdin'], env, 'Password123')
    assert.equal(common.code, 65)
    assert.match(common.stderr, /most common/)
    const badName = await cli(['user', 'add', 'a b', '--role', 'viewer', '--password-stdin'], env, 'a long passphrase')
    assert.equal(badName.code, 65)
  })
})

describe('carehub status', () => {
  test('a data folder that does not exist is reported, not created', async () => {
    const data = join(tempDir(), 'typo')
    const r = await cli(['status'], { CAREHUB_DATA_DIR: data })
    assert.equal(r.code, 66)
    assert.match(r.stderr, /no CareHub data at .*typo/)
    assert.equal(existsSync(data), false)
  })

  test('without a daemon: says so, and reports the store', async () => {
    const env = { CAREHUB_DATA_DIR: join(tempDir(), 'data') }
    await cli(['user', 'add', 'erin', '--role', 'admin', '--password-stdin'], env, 'a long passphrase')
    const text = await cli(['status'], env)
    assert.equal(text.code, 0)
    assert.match(text.stdout, /^CareHub gateway is not running$/m)
    assert.match(text.stdout, /users: 1 admin/)
    assert.match(text.stdout, /^rules: 0 enabled; alerts not resolved: none; alert deliveries waiting: none$/m)
    const json = await cli(['status', '--json'], env)
    const report = JSON.parse(json.stdout) as StatusReport
    assert.equal(report.daemon.running, false)
    assert.equal(report.store.users.admin, 1)
    assert.equal(report.readiness, null)
  })

  test('with the daemon running: pid, readiness per part, gateway id and last errors', async () => {
    const d = await spawnDaemon()
    const ready = await d.waitForLog(isReadyLine)
    const env = { CAREHUB_DATA_DIR: d.dataDir, CAREHUB_HTTP_PORT: String(d.port), CAREHUB_BIND: '127.0.0.1' }
    const json = await cli(['status', '--json'], env)
    assert.equal(json.code, 0, json.stderr)
    const report = JSON.parse(json.stdout) as StatusReport
    assert.equal(report.daemon.running, true)
    assert.equal(report.daemon.pid, d.proc.pid)
    assert.equal(report.readiness?.status, 'ok')
    assert.equal(report.readiness?.checks.store?.status, 'ok')
    assert.equal(report.readiness?.gateway?.id, ready.gatewayId)
    assert.deepEqual(report.readiness?.lastErrors, [])
    const text = await cli(['status'], env)
    assert.match(text.stdout, new RegExp(`is running \\(pid ${d.proc.pid}`))
    assert.match(text.stdout, /store +ok/)

    // A user added while the daemon runs is in the same store the daemon uses.
    const add = await cli(['user', 'add', 'frank', '--role', 'viewer', '--password-stdin'], env, 'a long passphrase')
    assert.equal(add.code, 0, add.stderr)
    d.proc.kill('SIGTERM')
    assert.equal((await d.exited).code, 0)
  })
})

describe('the installed `carehub` command', () => {
  test('npx carehub runs the compiled CLI from the repository root', () => {
    const data = join(tempDir(), 'data')
    const r = spawnSync('npx', ['--no-install', 'carehub', 'user', 'add', 'grace', '--role', 'installer', '--password-stdin'], {
      cwd: REPO_ROOT,
      input: 'a long passphrase\n',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', CAREHUB_DATA_DIR: data },
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /user "grace" added with role installer/)
    const bad = spawnSync('npx', ['--no-install', 'carehub', 'user', 'add', 'heidi', '--role', 'janitor', '--password-stdin'], {
      cwd: REPO_ROOT,
      input: 'a long passphrase\n',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', CAREHUB_DATA_DIR: data },
      encoding: 'utf8',
    })
    assert.equal(bad.status, 65)
    assert.match(bad.stderr, /unknown role "janitor"/)
  })
})
