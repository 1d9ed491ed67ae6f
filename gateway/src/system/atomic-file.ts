import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

function writeSynced(path: string, content: string | Uint8Array, mode: number): void {
  const fd = openSync(path, 'w', mode)
  try {
    const data = typeof content === 'string' ? Buffer.from(content) : content
    let offset = 0
    while (offset < data.length) offset += writeSync(fd, data, offset)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function syncDir(path: string): void {
  const dir = openSync(dirname(path), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}

/**
 * Replace a file so that after a power cut it holds either the old or the new content, never half
 * of one (write a temporary file, fsync it, rename over, fsync the folder). The mode is set on the
 * new file, so replacing a file that had looser permissions tightens them.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array, mode: number): void {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`
  writeSynced(tmp, content, mode)
  renameSync(tmp, path)
  syncDir(path)
}

/**
 * Create a file complete or not at all, and only if it does not exist yet (link(2) fails with
 * EEXIST): when the daemon and the CLI race to create the same key, one wins and the other reads it.
 * Returns false when the file already existed.
 */
export function createFileExclusive(path: string, content: string | Uint8Array, mode: number): boolean {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`
  writeSynced(tmp, content, mode)
  try {
    linkSync(tmp, path)
    syncDir(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    unlinkSync(tmp)
  }
}
