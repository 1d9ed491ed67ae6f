import mysql, { type Pool } from 'mysql2/promise'

/**
 * One pool per process. Times are BIGINT epoch ms everywhere (no DATETIME time-zone questions);
 * JSON columns come back parsed. `multipleStatements` stays off: only the migration runner, on its
 * own connection, runs files of several statements.
 */
export function createPool(url: string, connectionLimit = 10): Pool {
  return mysql.createPool({ uri: url, connectionLimit, supportBigNumbers: true, bigNumberStrings: false, timezone: 'Z', charset: 'utf8mb4' })
}
