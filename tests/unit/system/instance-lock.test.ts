import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { prepareDataDir } from '../../../gateway/src/system/data-dir.js'
import { acquireInstanceLock, runningDaemon } from '../../../gateway/src/system/instance-lock.js'
import { carehubError } from '../../_support/carehub-error.js'
import { tempDir } from '../../_support/temp.js'

const NOW = 1_790_000_000_000
const ME = { pid: process.pid, startedAt: NOW }
const LOCK_MODULE = fileURLToPath(new URL('../../../gateway/src/system/instance-lock.ts', import.meta.url))

const mode = (path: string) => statSync(path).mode & 0o777
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>

/** Another process that takes the lock on `dir` and holds it until killed. */
async function otherHolder(dir: string): Promise<ChildProcess> {
  const code = `const { acquireInstanceLock } = await import(${JSON.stringify(LOCK_MODULE)}); acquireInstanceLock(${JSON.stringify(dir)}, { pid: process.pid, startedAt: 1 }); console.log('locked'); setInterval(() => {}, 1000)`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  after(() => {
    child.kill('SIGKILL')
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('locked') && resolve())
    child.once('exit', (c) => reject(new Error(`holder exited ${c}`)))
  })
  return child
}

describe('acquireInstanceLock', () => {
  test('a first acquire is a clean start; the pid file is owner-only and names this process', () => {
    const dir = tempDir()
    const lock = acquireInstanceLock(dir, ME)
    assert.equal(lock.uncleanStop, false)
    assert.equal(lock.previous, null)
    assert.equal(mode(join(dir, 'carehub.pid')), 0o600)
    assert.deepEqual(readJson(join(dir, 'carehub.pid')), { pid: process.pid, startedAt: NOW })
    assert.deepEqual(readdirSync(dir).sort(), ['carehub.lock', 'carehub.pid'], 'no journal file beside the lock while it is held')
    lock.release()
  })

  test('release removes the pid file (the clean-stop marker); releasing twice is harmless; the next start is clean', () => {
    const dir = tempDir()
    acquireInstanceLock(dir, ME).release()
    assert.equal(existsSync(join(dir, 'carehub.pid')), false)
    const again = acquireInstanceLock(dir, ME)
    assert.equal(again.uncleanStop, false)
    again.release()
    again.release()
  })

  test('a pid file left behind (crash, power cut) → unclean stop with the previous content', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'carehub.pid'), JSON.stringify({ pid: 4242, startedAt: 7 }))
    const lock = acquireInstanceLock(dir, ME)
    assert.equal(lock.uncleanStop, true)
    assert.deepEqual(lock.previous, { pid: 4242, startedAt: 7 })
    lock.release()
  })

  test('a half-written pid file still counts as an unclean stop', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'carehub.pid'), '{"pid": 12')
    const lock = acquireInstanceLock(dir, ME)
    assert.equal(lock.uncleanStop, true)
    assert.deepEqual(lock.previous, { pid: 0, startedAt: 0 })
    lock.release()
  })

  test('held by another process → CAREHUB_ERR_ALREADY_RUNNING naming its pid; the lock frees itself when that process dies', async () => {
    const dir = tempDir()
    const holder = await otherHolder(dir)
    assert.throws(() => acquireInstanceLock(dir, ME), carehubError('CAREHUB_ERR_ALREADY_RUNNING', new RegExp(`\\(pid ${holder.pid}\\)`)))
    holder.kill('SIGKILL')
    await new Promise((r) => holder.once('exit', r))
    // No stale-lock guessing: the kernel dropped the lock with the process; its pid file marks the crash.
    const lock = acquireInstanceLock(dir, ME)
    assert.equal(lock.uncleanStop, true)
    assert.equal(lock.previous?.pid, holder.pid)
    lock.release()
  })

  test('a second acquire in the same process while the lock is held is refused too', () => {
    const dir = tempDir()
    const lock = acquireInstanceLock(dir, ME)
    assert.throws(() => acquireInstanceLock(dir, ME), carehubError('CAREHUB_ERR_ALREADY_RUNNING', /another CareHub gateway/))
    lock.release()
  })

  test('a data folder that does not exist → CAREHUB_ERR_DATA_DIR naming the lock path', () => {
    const dir = join(tempDir(), 'missing')
    assert.throws(() => acquireInstanceLock(dir, ME), carehubError('CAREHUB_ERR_DATA_DIR', new RegExp(`${dir}/carehub.lock`)))
  })
})

describe('runningDaemon', () => {
  test('null without a lock file, null when nobody holds the lock, the pid file when a process does', async () => {
    const dir = tempDir()
    assert.equal(runningDaemon(dir), null)
    acquireInstanceLock(dir, ME).release()
    assert.equal(runningDaemon(dir), null)
    const holder = await otherHolder(dir)
    assert.equal(runningDaemon(dir)?.pid, holder.pid)
    // Probing does not disturb the holder: it still holds the lock.
    assert.throws(() => acquireInstanceLock(dir, ME), carehubError('CAREHUB_ERR_ALREADY_RUNNING', /pid/))
  })
})

describe('prepareDataDir', () => {
  test('creates the folder, its missing parents and its sub-folders, all mode 0700', () => {
    const root = tempDir()
    const dir = join(root, 'var', 'lib', 'carehub')
    prepareDataDir(dir, ['store', 'pki/issued', 'secrets'])
    for (const p of [
      'var',
      'var/lib',
      'var/lib/carehub',
      'var/lib/carehub/store',
      'var/lib/carehub/pki',
      'var/lib/carehub/pki/issued',
      'var/lib/carehub/secrets',
    ]) {
      const st = statSync(join(root, p))
      assert.ok(st.isDirectory(), p)
      assert.equal((st.mode & 0o777).toString(8), '700', p)
    }
  })

  test('an existing folder is accepted as is, and its content kept', () => {
    const dir = join(tempDir(), 'data')
    mkdirSync(join(dir, 'store'), { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, 'store', 'keep.db'), 'x')
    prepareDataDir(dir, ['store'])
    prepareDataDir(dir, ['store'])
    assert.equal(readFileSync(join(dir, 'store', 'keep.db'), 'utf8'), 'x')
  })

  test('a regular file where the folder should be → CAREHUB_ERR_DATA_DIR naming the path', () => {
    const dir = join(tempDir(), 'data')
    writeFileSync(dir, 'not a folder')
    assert.throws(() => prepareDataDir(dir), carehubError('CAREHUB_ERR_DATA_DIR', new RegExp(`data folder ${dir}: a file is in the way`)))
    assert.equal(readFileSync(dir, 'utf8'), 'not a folder', 'the file is not touched')
  })

  test('a regular file where a sub-folder should be, or as a parent → CAREHUB_ERR_DATA_DIR naming that path', () => {
    const dir = join(tempDir(), 'data')
    mkdirSync(dir)
    writeFileSync(join(dir, 'store'), 'oops')
    assert.throws(
      () => prepareDataDir(dir, ['store']),
      carehubError('CAREHUB_ERR_DATA_DIR', new RegExp(`data folder ${dir}/store: a file is in the way`)),
    )
    assert.throws(
      () => prepareDataDir(join(dir, 'store', 'deeper')),
      carehubError('CAREHUB_ERR_DATA_DIR', new RegExp(`${dir}/store/deeper: a file is in the way`)),
    )
  })
})
