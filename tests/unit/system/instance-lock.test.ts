import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { prepareDataDir } from '../../../gateway/src/system/data-dir.js'
import { acquireInstanceLock, runningDaemon } from '../../../gateway/src/system/instance-lock.js'
import { carehubError } from '../../_support/carehub-error.js'
import { tempDir } from '../../_support/temp.js'

const BOOT_ID = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
const OTHER_BOOT_ID = '00000000-1111-2222-3333-444444444444'
const NOW = 1_790_000_000_000

const mode = (path: string) => statSync(path).mode & 0o777
const lockPath = () => join(tempDir('carehub-lock-'), 'gateway.lock')
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>

/** The pid of a process that has run and been reaped: nobody has it now (checked). */
function deadPid(): number {
  const r = spawnSync('true')
  assert.equal(r.status, 0)
  assert.ok(r.pid > 0)
  assert.throws(() => process.kill(r.pid, 0), { code: 'ESRCH' }, 'precondition: the pid is gone')
  return r.pid
}

/** A live process other than this one, killed when the file ends. */
async function livePid(): Promise<number> {
  const child: ChildProcess = spawn('sleep', ['30'], { stdio: 'ignore' })
  after(() => {
    child.kill('SIGKILL')
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  const pid = child.pid
  assert.ok(pid !== undefined && pid !== process.pid)
  process.kill(pid, 0) // precondition: alive
  return pid
}

function writeLock(path: string, content: unknown): void {
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 })
}

describe('acquireInstanceLock', () => {
  test('a first acquire is a clean start; the lock is owner-only and names this process', () => {
    const path = lockPath()
    const lock = acquireInstanceLock(path, NOW)
    assert.equal(lock.uncleanStop, false)
    assert.equal(lock.previous, null)
    assert.equal(mode(path), 0o600)
    assert.deepEqual(readJson(path), { pid: process.pid, bootId: BOOT_ID, startedAt: NOW })
    lock.release()
  })

  test('release removes the lock (the clean-stop marker); releasing twice is harmless; the next start is clean', () => {
    const path = lockPath()
    const lock = acquireInstanceLock(path, NOW)
    lock.release()
    assert.equal(existsSync(path), false)
    lock.release()
    const next = acquireInstanceLock(path, NOW + 1000)
    assert.equal(next.uncleanStop, false)
    assert.equal(next.previous, null)
    next.release()
  })

  test('a lock left by a dead process on this boot → unclean stop, previous content reported, lock taken over', () => {
    const path = lockPath()
    const pid = deadPid()
    writeLock(path, { pid, bootId: BOOT_ID, startedAt: NOW - 60_000 })
    const lock = acquireInstanceLock(path, NOW)
    assert.equal(lock.uncleanStop, true)
    assert.deepEqual(lock.previous, { pid, bootId: BOOT_ID, startedAt: NOW - 60_000 })
    assert.deepEqual(readJson(path), { pid: process.pid, bootId: BOOT_ID, startedAt: NOW })
    assert.equal(mode(path), 0o600)
    lock.release()
    assert.equal(existsSync(path), false)
  })

  test('a lock from another boot whose pid is alive now (pid reused) → unclean stop, not "already running"', async () => {
    const path = lockPath()
    const pid = await livePid()
    writeLock(path, { pid, bootId: OTHER_BOOT_ID, startedAt: NOW - 86_400_000 })
    const lock = acquireInstanceLock(path, NOW)
    assert.equal(lock.uncleanStop, true)
    assert.equal(lock.previous?.pid, pid)
    assert.equal(lock.previous?.bootId, OTHER_BOOT_ID)
    assert.equal(readJson(path).pid, process.pid)
    lock.release()
  })

  test('a lock naming this very process (pid reused, e.g. pid 1 in a container) → unclean stop', () => {
    const path = lockPath()
    writeLock(path, { pid: process.pid, bootId: BOOT_ID, startedAt: NOW - 5000 })
    const lock = acquireInstanceLock(path, NOW)
    assert.equal(lock.uncleanStop, true)
    assert.equal(readJson(path).startedAt, NOW)
    lock.release()
  })

  test('a lock held by a live other process on this boot → CAREHUB_ERR_ALREADY_RUNNING naming its pid; the lock is left alone', async () => {
    const path = lockPath()
    const pid = await livePid()
    const held = { pid, bootId: BOOT_ID, startedAt: NOW - 1000 }
    writeLock(path, held)
    assert.throws(() => acquireInstanceLock(path, NOW), carehubError('CAREHUB_ERR_ALREADY_RUNNING', new RegExp(`\\(pid ${pid}\\)`)))
    assert.deepEqual(readJson(path), held)
  })

  test('a garbage, half-written or empty lock file → unclean stop, lock taken over', () => {
    for (const content of ['{"pid": 12', '', 'not json at all', '{"pid":"12","bootId":7}', 'null']) {
      const path = lockPath()
      writeLock(path, content)
      const lock = acquireInstanceLock(path, NOW)
      assert.equal(lock.uncleanStop, true, `content ${JSON.stringify(content)}`)
      assert.deepEqual(readJson(path), { pid: process.pid, bootId: BOOT_ID, startedAt: NOW })
      lock.release()
    }
  })

  test('a lock naming pid 0 or a negative pid is stale (no daemon can have it), not "already running"', () => {
    for (const pid of [0, -1]) {
      const path = lockPath()
      writeLock(path, { pid, bootId: BOOT_ID, startedAt: NOW - 1000 })
      assert.equal(runningDaemon(path), null, `runningDaemon with pid ${pid}`)
      const lock = acquireInstanceLock(path, NOW)
      assert.equal(lock.uncleanStop, true)
      lock.release()
    }
  })

  test('a second acquire in the same process while the lock is held takes it over (same pid is not a rival)', () => {
    const path = lockPath()
    const first = acquireInstanceLock(path, NOW)
    const second = acquireInstanceLock(path, NOW + 1)
    assert.equal(second.uncleanStop, true)
    assert.equal(second.previous?.startedAt, NOW)
    second.release()
    first.release()
  })

  test('a lock path in a missing folder → CAREHUB_ERR_DATA_DIR naming the path', () => {
    const path = join(tempDir(), 'no-such-folder', 'gateway.lock')
    assert.throws(
      () => acquireInstanceLock(path, NOW),
      carehubError('CAREHUB_ERR_DATA_DIR', new RegExp(`cannot create ${path.replaceAll('.', '\\.')}`)),
    )
  })
})

describe('runningDaemon', () => {
  test('returns the lock content only for a live pid on this boot', async () => {
    const live = await livePid()
    const cases: Array<[string, unknown, boolean]> = [
      ['live pid, this boot', { pid: live, bootId: BOOT_ID, startedAt: NOW }, true],
      ['dead pid, this boot', { pid: deadPid(), bootId: BOOT_ID, startedAt: NOW }, false],
      ['live pid, another boot', { pid: live, bootId: OTHER_BOOT_ID, startedAt: NOW }, false],
      ['garbage', '{"pid": ', false],
      ['empty', '', false],
    ]
    for (const [name, content, running] of cases) {
      const path = lockPath()
      writeLock(path, content)
      const found = runningDaemon(path)
      if (running) assert.deepEqual(found, content, name)
      else assert.equal(found, null, name)
      assert.ok(existsSync(path), `${name}: runningDaemon does not touch the lock`)
    }
    assert.equal(runningDaemon(lockPath()), null, 'no lock file')
  })

  test('sees a lock this process took, and nothing after release', () => {
    const path = lockPath()
    const lock = acquireInstanceLock(path, NOW)
    assert.deepEqual(runningDaemon(path), { pid: process.pid, bootId: BOOT_ID, startedAt: NOW })
    lock.release()
    assert.equal(runningDaemon(path), null)
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
