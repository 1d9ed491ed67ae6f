import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { CarehubError } from '../core/errors.js'
import { type Db, openStore, openStoreReadOnly } from '../store/open.js'
import { prepareDataDir } from '../system/data-dir.js'
import { PID_FILE, STORE_FILE } from '../system/data-layout.js'
import { runningDaemon } from '../system/instance-lock.js'
import { createLogger } from '../system/logger.js'

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly stdin: () => Promise<string>
  readonly now: () => number
}

export interface CliContext {
  readonly config: Readonly<Config>
  readonly log: Logger
}

/** The CLI reads the same config (file + CAREHUB_* env) as the daemon, so both see one data folder. */
export function cliContext(io: CliIo): CliContext {
  const { config } = loadConfig(io.env, io.cwd)
  // CLI logs only problems, to stderr: stdout carries the command's answer.
  const log = createLogger({ level: 'warn', destination: { write: (line: string) => io.stderr(line) } })
  return { config, log }
}

/**
 * Open the store beside a possibly running daemon (WAL allows one writer and many readers; the
 * busy timeout covers short write overlaps). Migrations run if the daemon never has. A pid file left
 * by a crashed daemon (and no daemon running) means the store is checked before the CLI writes.
 * `readOnly` never creates anything: a mistyped CAREHUB_DATA_DIR is reported, not initialised.
 */
export async function withStore<T>(ctx: CliContext, now: number, use: (db: Db) => T | Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  const { dataDir } = ctx.config
  const path = join(dataDir, STORE_FILE)
  let db: Db
  if (options.readOnly) {
    if (!existsSync(path))
      throw new CarehubError('CAREHUB_ERR_NOT_FOUND', `no CareHub data at ${dataDir} (check CAREHUB_DATA_DIR; the gateway creates it on first start)`)
    db = openStoreReadOnly(path)
  } else {
    prepareDataDir(dataDir)
    const crashed = existsSync(join(dataDir, PID_FILE)) && runningDaemon(dataDir) === null
    db = openStore({ path, log: ctx.log, now, checkIntegrity: crashed })
  }
  try {
    return await use(db)
  } finally {
    db.close()
  }
}
