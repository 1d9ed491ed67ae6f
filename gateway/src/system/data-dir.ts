import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { CarehubError } from '../core/errors.js'

/**
 * Create the data folder (and the given sub-folders) owner-only, and prove it is writable before
 * anything else touches it, so the user gets "cannot write <path>" instead of a late SQLite error.
 */
export function prepareDataDir(dir: string, subdirs: readonly string[] = []): void {
  for (const path of [dir, ...subdirs.map((s) => `${dir}/${s}`)]) {
    try {
      mkdirSync(path, { recursive: true, mode: 0o700 })
      if (!statSync(path).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
      accessSync(path, constants.W_OK | constants.R_OK | constants.X_OK)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const why =
        code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'no permission to write there (run as the carehub user, or set CAREHUB_DATA_DIR to a writable folder)'
          : code === 'ENOTDIR' || code === 'EEXIST'
            ? 'a file is in the way, not a folder'
            : (err as Error).message
      throw new CarehubError('CAREHUB_ERR_DATA_DIR', `data folder ${path}: ${why}`, { cause: err })
    }
  }
}
