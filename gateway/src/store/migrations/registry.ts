import * as m001 from './001-initial.js'
import * as m002 from './002-latest-and-rhythm.js'
import * as m003 from './003-audit-chain.js'
import * as m004 from './004-mfa.js'
import * as m005 from './005-history.js'
import * as m006 from './006-secrets.js'
import * as m007 from './007-alerts.js'
import * as m008 from './008-journal-seq.js'
import * as r001 from './rollups/001-rollups.js'

/**
 * Forward-only, numbered migrations. Append; never edit or reorder a released one — a database
 * records the versions it has applied and a changed migration would never run again.
 */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', sql: m001.sql },
  { version: 2, name: 'latest-and-rhythm', sql: m002.sql },
  { version: 3, name: 'audit-chain', sql: m003.sql },
  { version: 4, name: 'mfa', sql: m004.sql },
  { version: 5, name: 'history', sql: m005.sql },
  { version: 6, name: 'secrets', sql: m006.sql },
  { version: 7, name: 'alerts', sql: m007.sql },
  { version: 8, name: 'journal-seq', sql: m008.sql },
]

/** The rollup database's own migrations (rollups.db, store/rollup-db.ts): numbered on their own. */
export const ROLLUP_MIGRATIONS: readonly Migration[] = [{ version: 1, name: 'rollups', sql: r001.sql }]
