import { join } from 'node:path'
import type { Logger } from 'pino'
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { type Db, openStore } from '../store/open.js'
import { prepareDataDir } from '../system/data-dir.js'
import { STORE_FILE } from '../system/data-layout.js'
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
 * busy timeout covers short write overlaps). Migrations run if the daemon never has.
 */
export function withStore<T>(ctx: CliContext, now: number, use: (db: Db) => T): T {
  prepareDataDir(ctx.config.dataDir)
  const db = openStore({ path: join(ctx.config.dataDir, STORE_FILE), log: ctx.log, now, checkIntegrity: false })
  try {
    return use(db)
  } finally {
    db.close()
  }
}
