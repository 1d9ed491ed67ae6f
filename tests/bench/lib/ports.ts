import { createServer, type Server } from 'node:net'

/** A port free on loopback right now (the kernel's pick). */
export const freePort = async (): Promise<number> => ((await freePorts(1)) as [number])[0]

/**
 * `n` distinct ports free on loopback right now. Each is held until all are known: closed one by
 * one, the kernel may hand the same port out twice. That is the likely cause of a run in which
 * every device's TLS handshake with the gateway was answered in plain text ("wrong version
 * number"): its MQTT port given to VictoriaMetrics too.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = []
  const ports: number[] = []
  for (let i = 0; i < n; i++) {
    const s = createServer()
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    servers.push(s)
    ports.push((s.address() as { port: number }).port)
  }
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  return ports
}
