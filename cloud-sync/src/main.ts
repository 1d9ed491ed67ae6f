import { createServer } from 'node:http'
import { toNodeHandler } from 'h3/node'
import pino from 'pino'
import { loadCloudConfig } from './config.js'
import { CredentialBox } from './crypto/credential-box.js'
import { migrate } from './db/migrate.js'
import { createPool } from './db/pool.js'
import { buildCloudApp } from './http/app.js'
import { runRelay } from './relay/relay-main.js'

/**
 * `node cloud-sync/dist/main.js [migrate|relay]`: migrate the database, run a relay instance, or serve. Stateless: any number
 * of instances behind a load balancer (TLS terminated there) share one MySQL.
 */
async function main(): Promise<number> {
  const config = loadCloudConfig(process.env)
  const log = pino({ level: config.CLOUD_LOG_LEVEL, redact: ['req.headers.authorization', 'req.headers["x-signature"]'] })
  if (process.argv[2] === 'migrate') {
    const report = await migrate(config.CLOUD_DATABASE_URL)
    log.info(report, 'database migrated')
    return 0
  }
  const pool = createPool(config.CLOUD_DATABASE_URL)
  if (process.argv[2] === 'relay') {
    const stop = await runRelay(config, pool, log)
    await new Promise<void>((resolve) => {
      for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve())
    })
    await stop()
    await pool.end()
    return 0
  }
  const app = buildCloudApp({
    pool,
    box: new CredentialBox(config.CLOUD_CREDENTIAL_KEY),
    log,
    adminToken: config.CLOUD_ADMIN_TOKEN,
    maxSkewMs: config.CLOUD_MAX_SKEW_SECONDS * 1000,
    now: () => Date.now(),
  })
  const server = createServer(toNodeHandler(app))
  await new Promise<void>((resolve) => server.listen(config.CLOUD_HTTP_PORT, config.CLOUD_BIND, resolve))
  log.info({ port: config.CLOUD_HTTP_PORT, bind: config.CLOUD_BIND }, 'cloud-sync serving')
  await new Promise<void>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve())
  })
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await pool.end()
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cloud-sync: ${(err as Error).message}\n`)
    process.exit(1)
  },
)
