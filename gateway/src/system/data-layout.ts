/** File names inside CAREHUB_DATA_DIR, shared by the daemon and the `carehub` command. */
export const STORE_FILE = 'carehub.db'
/** Rollups, derived from the journal: a file of its own so folding never holds the journal's write lock (store/rollup-db.ts). */
export const ROLLUP_FILE = 'rollups.db'
export const LOCK_FILE = 'carehub.lock'
export const PID_FILE = 'carehub.pid'
export const PKI_DIR = 'pki'
export const SECRETS_DIR = 'secrets'
export const BROKER_DIR = 'broker'
