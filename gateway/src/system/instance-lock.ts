import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { CarehubError } from '../core/errors.js'

interface LockContent {
  readonly pid: number
  readonly bootId: string
  readonly startedAt: number
}

export interface AcquiredLock {
  /** True when the previous daemon did not remove its lock: it crashed or lost power. */
  readonly uncleanStop: boolean
  readonly previous: LockContent | null
  release(): void
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return 'unknown'
  }
}

function isAlive(pid: number): boolean {
  // kill(0, …) signals our own process group and kill(-1, …) every process: both "succeed".
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * One daemon per data folder. The lock file doubles as the "clean stop" marker: it is removed on a
 * clean stop, so finding one from an earlier boot, or from a process that is gone, means the last
 * run ended uncleanly and the store gets an integrity check. The boot id guards against a pid
 * reused after a reboot.
 */
export function acquireInstanceLock(path: string, now: number): AcquiredLock {
  const me: LockContent = { pid: process.pid, bootId: readBootId(), startedAt: now }
  let previous: LockContent | null = null
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, JSON.stringify(me))
      closeSync(fd)
      let released = false
      return {
        uncleanStop: previous !== null,
        previous,
        release() {
          if (released) return
          released = true
          try {
            unlinkSync(path)
          } catch {
            // Already gone: nothing to release.
          }
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CarehubError('CAREHUB_ERR_DATA_DIR', `cannot create ${path}: ${(err as Error).message}`, { cause: err })
      }
    }
    previous = readLock(path)
    if (previous && previous.bootId === me.bootId && previous.pid !== process.pid && isAlive(previous.pid)) {
      throw new CarehubError(
        'CAREHUB_ERR_ALREADY_RUNNING',
        `another CareHub gateway (pid ${previous.pid}) is using this data folder; stop it first, or set CAREHUB_DATA_DIR to another folder`,
      )
    }
    unlinkSync(path)
  }
  throw new CarehubError('CAREHUB_ERR_DATA_DIR', `cannot take the lock ${path}: it keeps reappearing`)
}

function readLock(path: string): LockContent | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockContent>
    if (typeof parsed.pid === 'number' && typeof parsed.bootId === 'string') {
      return { pid: parsed.pid, bootId: parsed.bootId, startedAt: Number(parsed.startedAt ?? 0) }
    }
  } catch {
    // Unreadable or half-written (power cut while writing): treat as a stale lock.
  }
  return { pid: 0, bootId: 'unknown', startedAt: 0 }
}

/** For `carehub status`: the running daemon's pid, if any, without taking the lock. */
export function runningDaemon(path: string): LockContent | null {
  let content: LockContent | null
  try {
    content = JSON.parse(readFileSync(path, 'utf8')) as LockContent
  } catch {
    return null
  }
  return content && content.bootId === readBootId() && isAlive(content.pid) ? content : null
}
