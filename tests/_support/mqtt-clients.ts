import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after } from 'node:test'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { DeviceCerts } from './gateway-harness.js'
import { tempDir } from './temp.js'

/** Client options of a device: its certificate, MQTT 3.1.1, no reconnects, the box CA trusted. */
function deviceOptions(certs: Partial<Pick<DeviceCerts, 'certPem' | 'keyPem'>> & { caPem: string }, options: IClientOptions): IClientOptions {
  return {
    ca: certs.caPem,
    cert: certs.certPem,
    key: certs.keyPem,
    servername: 'localhost',
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  }
}

/** mqtt.js (MQTT 3.1.1) with a device's certificate; the `false` third argument avoids the hang on a silent close (dependencies notes §3). */
export async function connectDevice(
  port: number,
  certs: Pick<DeviceCerts, 'certPem' | 'keyPem' | 'caPem'>,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, deviceOptions(certs, options), false)
  after(() => client.end(true))
  return client
}

/** Try to connect; resolves with the error (or null when it connected, then closes). */
export async function connectError(
  port: number,
  certs: Partial<Pick<DeviceCerts, 'certPem' | 'keyPem'>> & { caPem: string },
  options: IClientOptions = {},
): Promise<Error | null> {
  return new Promise((resolve) => {
    const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, deviceOptions(certs, options))
    const done = (err: Error | null) => {
      client.end(true)
      resolve(err)
    }
    client.once('connect', () => done(null))
    client.once('error', (err) => done(err))
    client.once('close', () => done(new Error('connection closed without CONNACK')))
  })
}

/** Write a device's PEMs where the mosquitto command-line clients can read them. */
export function certFiles(certs: Pick<DeviceCerts, 'certPem' | 'keyPem' | 'caPem'>): { ca: string; cert: string; key: string } {
  const dir = tempDir('carehub-mosq-')
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'dev.crt'), key: join(dir, 'dev.key') }
  writeFileSync(files.ca, certs.caPem)
  writeFileSync(files.cert, certs.certPem)
  writeFileSync(files.key, certs.keyPem, { mode: 0o600 })
  return files
}

/** Run Debian's mosquitto_pub/mosquitto_sub (an independent MQTT implementation) to completion. */
export function mosquitto(
  tool: 'mosquitto_pub' | 'mosquitto_sub',
  args: string[],
  timeoutMs = 10_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}
