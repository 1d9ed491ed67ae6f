import type { NetworkInterfaceInfo } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { hashPassword } from '../../gateway/src/auth/password.js'
import { type ConfigInput, ConfigSchema } from '../../gateway/src/config/schema.js'
import { Gateway } from '../../gateway/src/gateway.js'
import { enrolDevice } from '../../gateway/src/pki/device-enrolment.js'
import type { IssuedCertificate } from '../../gateway/src/pki/local-ca.js'
import { insertUser, type Role } from '../../gateway/src/store/users.js'
import { RecentErrors } from '../../gateway/src/system/recent-errors.js'
import { RecentLogs } from '../../gateway/src/system/recent-logs.js'
import type { SystemdNotifier } from '../../gateway/src/system/systemd-notifier.js'
import { httpsJson } from './https-get.js'
import { captureLogger } from './log-capture.js'
import { freePort, tempDir } from './temp.js'

const noNotify: SystemdNotifier = {
  enabled: false,
  ready: () => {},
  status: () => {},
  watchdog: () => {},
  stopping: () => {},
  extendStart: () => {},
  watchdogIntervalMs: () => null,
  close: () => {},
}

export interface Harness {
  readonly gateway: Gateway
  readonly dataDir: string
  readonly mqttPort: number
  readonly httpPort: number
  readonly lines: () => Array<Record<string, unknown>>
  /** Enrol a device with the running gateway's CA and store; returns its PEMs and the CA's. */
  enrol(deviceId: string, options?: { validityDays?: number; now?: number }): Promise<DeviceCerts>
  /** Create a user directly in the store (as `carehub user add` does); returns its id. */
  addUser(username: string, role: Role, password?: string): Promise<number>
  /** Sign in over real HTTPS; returns the token pair. */
  login(username: string, password?: string): Promise<{ accessToken: string; refreshToken: string }>
  /** Stop and start a new Gateway on the same data folder and ports (with other options, e.g. a clock: the box back later). */
  restart(options?: HarnessOptions): Promise<Harness>
}

export interface DeviceCerts extends IssuedCertificate {
  readonly caPem: string
}

/** A Gateway (not started) on loopback with the given ports and data folder, logging to memory. */
export interface HarnessOptions {
  readonly interfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>
  readonly clock?: { now(): number }
}

export function buildGateway(
  overrides: ConfigInput,
  where: { dataDir: string; mqttPort: number; httpPort: number },
  options: HarnessOptions = {},
): { gateway: Gateway; lines: () => Array<Record<string, unknown>> } {
  const config = ConfigSchema.parse({
    ...overrides,
    dataDir: where.dataDir,
    bind: '127.0.0.1',
    http: { ...overrides.http, port: where.httpPort },
    mqtt: { ...overrides.mqtt, port: where.mqttPort },
    mdns: overrides.mdns ?? { enabled: false },
  })
  const recentLogs = new RecentLogs()
  const { log, lines } = captureLogger('debug', (d) => recentLogs.tee(d))
  const gateway = new Gateway({
    config,
    log,
    clock: options.clock ?? { now: () => Date.now() },
    version: '0.0.0-test',
    pid: process.pid,
    notifier: noNotify,
    recentErrors: new RecentErrors(),
    recentLogs,
    host: { hostname: 'carehub-test', interfaces: options.interfaces ?? (() => ({})) },
  })
  return { gateway, lines }
}

/** A real Gateway in this process on loopback, random ports, throw-away data folder; stopped at the end. */
export async function startGateway(
  overrides: ConfigInput = {},
  reuse?: { dataDir: string; mqttPort: number; httpPort: number },
  options: HarnessOptions = {},
): Promise<Harness> {
  const dataDir = reuse?.dataDir ?? join(tempDir(), 'data')
  let mqttPort = reuse?.mqttPort ?? (await freePort())
  let httpPort = reuse?.httpPort ?? (await freePort())
  let built = buildGateway(overrides, { dataDir, mqttPort, httpPort }, options)
  // Another test file running at the same time may bind a port between our check and our bind:
  // pick new ports and try again (fixed ports of a restart are not changed).
  for (let attempt = 0; ; attempt++) {
    try {
      await built.gateway.start()
      break
    } catch (err) {
      if (reuse || attempt >= 4 || (err as { code?: string }).code !== 'CAREHUB_ERR_PORT_IN_USE') throw err
      mqttPort = await freePort()
      httpPort = await freePort()
      built = buildGateway(overrides, { dataDir, mqttPort, httpPort }, options)
    }
  }
  const { gateway, lines } = built
  let stopped = false
  after(async () => {
    if (!stopped) await gateway.stop()
  })
  const harness: Harness = {
    gateway,
    dataDir,
    mqttPort,
    httpPort,
    lines,
    async enrol(deviceId, options = {}) {
      const issued = await enrolDevice(gateway.store.db, gateway.pki.ca, deviceId, {
        validityDays: options.validityDays ?? 365,
        now: options.now ?? Date.now(),
        renew: false,
      })
      return { ...issued, caPem: gateway.pki.ca.certPem }
    },
    async addUser(username, role, password = 'correct horse battery') {
      const passwordHash = await hashPassword(password, username)
      return insertUser(gateway.store.db, { username, role, passwordHash, now: options.clock?.now() ?? Date.now() }).id
    },
    async login(username, password = 'correct horse battery') {
      const res = await httpsJson('POST', `https://127.0.0.1:${httpPort}/api/auth/login`, gateway.pki.ca.certPem, { username, password })
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`)
      return res.body as { accessToken: string; refreshToken: string }
    },
    async restart(next = options) {
      stopped = true
      await gateway.stop()
      return startGateway(overrides, { dataDir, mqttPort, httpPort }, next)
    },
  }
  return harness
}
