// Shared by the benchmarks (not tests): a free port, and the compiled daemon started as production runs it.
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../gateway/dist/main.js', import.meta.url))

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/** The gateway as its own process on loopback, logging warnings to this terminal; killed when the benchmark exits. */
export function spawnGateway(o: {
  configPath: string
  dataDir: string
  httpPort: number
  mqttPort: number
  stdout?: 'ignore' | 'inherit'
}): ChildProcess {
  const gw = spawn(process.execPath, [ENTRY], {
    env: {
      PATH: process.env.PATH,
      CAREHUB_CONFIG: o.configPath,
      CAREHUB_DATA_DIR: o.dataDir,
      CAREHUB_HTTP_PORT: String(o.httpPort),
      CAREHUB_MQTT_PORT: String(o.mqttPort),
      CAREHUB_BIND: '127.0.0.1',
      CAREHUB_MDNS: 'off',
      CAREHUB_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', o.stdout ?? 'inherit', 'inherit'],
  })
  process.on('exit', () => gw.kill('SIGKILL'))
  return gw
}
