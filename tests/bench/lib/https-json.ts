// JSON over HTTPS to the gateway on loopback, trusting its CA, on kept-alive connections (one agent
// per port and CA, so the API load measures requests, not TLS handshakes).
import { Agent, request } from 'node:https'

const agents = new Map<string, Agent>()

export function httpsJson(
  port: number,
  ca: Buffer,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  timeoutMs = 30_000,
): Promise<{ status: number; text: string }> {
  const key = `${port}`
  let agent = agents.get(key)
  if (!agent) {
    agent = new Agent({ keepAlive: true, ca, servername: 'localhost', maxSockets: 16 })
    agents.set(key, agent)
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent,
        timeout: timeoutMs,
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
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}
