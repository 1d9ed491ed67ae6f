// Shared by the benchmarks (not tests): a free port, and the compiled daemon started as production runs it.
import { type ChildProcess, spawn } from 'node:child_process'
import { Agent, request } from 'node:https'
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

/** JSON over HTTPS to the gateway on loopback, trusting its CA, on kept-alive connections. */
export function httpsClient(port: number, ca: Buffer) {
  const agent = new Agent({ keepAlive: true, ca, servername: 'localhost' })
  return (method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          agent,
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (c: string) => {
            text += c
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        },
      )
      req.on('error', reject)
      req.end(body === undefined ? undefined : JSON.stringify(body))
    })
}
