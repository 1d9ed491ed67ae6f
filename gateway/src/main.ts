#!/usr/bin/env node
import { hostname, networkInterfaces } from 'node:os'
import type { Logger } from 'pino'
import { loadConfig } from './config/load.js'
import { systemClock } from './core/clock.js'
import { CarehubError, isCarehubError } from './core/errors.js'
import { Gateway } from './gateway.js'
import { createLogger } from './system/logger.js'
import { RecentErrors } from './system/recent-errors.js'
import { createSystemdNotifier } from './system/systemd-notifier.js'
import { gatewayVersion } from './system/version.js'

/**
 * The process owner: the only module that touches `process` (argv, env, signals, exit codes).
 * Exit codes: 0 clean stop; sysexits(3) codes from the error catalogue for start-up failures;
 * 1 for a crash (unhandled rejection/exception) so systemd's Restart=on-failure restarts us;
 * 70 when stopping overran the deadline; 130 when a second signal forced the exit.
 */
const USAGE = `Usage: carehub-gateway [--help] [--version]
Starts the CareHub gateway. Configuration: CAREHUB_CONFIG (YAML) and CAREHUB_* variables (see README).`

async function main(): Promise<void> {
  // Everything the gateway writes (database, keys, backups) is for its own user only.
  process.umask(0o077)
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) return void process.stdout.write(`${USAGE}\n`)
  if (args.includes('--version')) return void process.stdout.write(`${gatewayVersion()}\n`)
  if (args.length > 0) return fail(new CarehubError('CAREHUB_ERR_USAGE', `unknown argument "${args[0]}"\n${USAGE}`))

  let log: Logger | undefined
  try {
    const { config, source } = loadConfig(process.env, process.cwd())
    const recentErrors = new RecentErrors()
    log = createLogger({ level: config.log.level, onError: (e) => recentErrors.push({ at: new Date().toISOString(), ...e }) })
    const rootLog = log
    const notifier = createSystemdNotifier(process.env, process.pid, log.child({ module: 'systemd' }))
    const gateway = new Gateway({
      config,
      log,
      clock: systemClock,
      version: gatewayVersion(),
      notifier,
      recentErrors,
      host: { hostname: hostname(), interfaces: networkInterfaces },
    })

    process.on('unhandledRejection', (reason) => crash(rootLog, 'unhandled promise rejection', reason))
    process.on('uncaughtException', (err) => crash(rootLog, 'uncaught exception', err))
    let stopping = false
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) {
        rootLog.warn({ signal }, 'second signal: exiting without waiting')
        process.exit(130)
      }
      stopping = true
      rootLog.info({ signal }, 'stopping')
      notifier.stopping(`stopping on ${signal}`)
      const deadline = setTimeout(() => {
        rootLog.error({ timeoutMs: config.shutdown.timeoutMs }, 'stopping took too long: exiting by force')
        process.exit(70)
      }, config.shutdown.timeoutMs)
      gateway.stop().then(
        () => {
          clearTimeout(deadline)
          rootLog.info('stopped cleanly')
          notifier.close()
          process.exitCode = 0
        },
        (err: unknown) => crash(rootLog, 'error while stopping', err),
      )
    }
    process.on('SIGTERM', shutdown)
    process.on('SIGINT', shutdown)

    const started = performance.now()
    await gateway.start()
    const address = gateway.http.address
    const urls = panelUrls(config.bind, address?.port ?? config.http.port, hostname())
    notifier.ready(`ready: ${urls[0]}`)
    log.info(
      {
        startupMs: Math.round(performance.now() - started),
        config: source ?? 'embedded defaults',
        dataDir: config.dataDir,
        gatewayId: gateway.gatewayId,
        urls,
      },
      `CareHub gateway ready — panel and API at ${urls.join(' and ')}`,
    )
  } catch (err) {
    log?.fatal({ err }, 'start-up failed')
    fail(err)
  }
}

function panelUrls(bind: string, port: number, host: string): string[] {
  if (bind === '0.0.0.0' || bind === '::') return [`https://127.0.0.1:${port}/`, `https://${host.toLowerCase()}.local:${port}/`]
  return [`https://${bind.includes(':') ? `[${bind}]` : bind}:${port}/`]
}

/** One line a person can act on, on stderr, and the catalogue's exit code. */
function fail(err: unknown): void {
  const message = isCarehubError(err) ? `${err.message} [${err.code}]` : `unexpected error: ${(err as Error)?.stack ?? String(err)}`
  process.stderr.write(`carehub: ${message}\n`)
  process.exit(isCarehubError(err) ? err.exitCode : 1)
}

/** Never limp on after an error nobody handled: log it and exit non-zero so systemd restarts us. */
function crash(log: Logger, what: string, err: unknown): never {
  log.fatal({ err }, what)
  process.stderr.write(`carehub: ${what}: ${(err as Error)?.message ?? String(err)}\n`)
  process.exit(1)
}

await main()
