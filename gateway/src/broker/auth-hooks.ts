import type { AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import type { Logger } from 'pino'
import { type ConnectFacts, type DeviceSession, peerCertificate } from './device-session.js'
import { clientIdProblem, DEVICE_ID, maySubscribe, type PublishTopic, printable, publishTopic } from './identity.js'

export interface HookPolicy {
  /** null when the certificate (by serial) is ours, recorded and not revoked; else the reason. */
  certificateProblem(serial: string, deviceId: string): string | null
  /** For the loopback plain listener: is this device enrolled with a valid, unrevoked certificate? */
  hasValidCertificate(deviceId: string): boolean
  /** Resolve to acknowledge (PUBACK); reject to refuse (the connection is closed, the device retries). */
  onPublish(session: DeviceSession, topic: PublishTopic, packet: PublishPacket): Promise<void>
  onRefused(reason: string, detail: string, remoteAddress: string | undefined): void
}

/** aedes AuthErrorCode is a const enum (unusable under isolatedModules): CONNACK return codes, MQTT 3.1.1 §3.2.2.3. */
const IDENTIFIER_REJECTED = 2
const NOT_AUTHORIZED = 5

/**
 * aedes' callback hooks, wrapped once: identity from the certificate CN, ACL per CONTRACT, and the
 * publish acknowledgement held until onPublish resolves (aedes sends PUBACK right after
 * authorizePublish calls back — security-reliability §0.1 — so this is where "acked = stored" lives).
 */
export function createAuthHooks(policy: HookPolicy, log: Logger) {
  const facts = new WeakMap<Client, ConnectFacts>()
  const sessions = new WeakMap<Client, DeviceSession>()
  const refuse = (returnCode: number, reason: string, detail: string, client: Client): AuthenticateError => {
    policy.onRefused(reason, detail, client.conn && 'remoteAddress' in client.conn ? client.conn.remoteAddress : undefined)
    log.info({ reason, detail }, 'MQTT connection refused')
    return Object.assign(new Error(detail), { returnCode }) as AuthenticateError
  }

  return {
    sessions,
    preConnect(client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void {
      facts.set(client, { clientId: packet.clientId, clean: packet.clean !== false, willTopic: packet.will?.topic ?? null })
      done(null, true)
    },

    authenticate(client: Client, _username: unknown, _password: unknown, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
      const raw = facts.get(client)
      const peer = peerCertificate(client)
      const remoteAddress = client.conn && 'remoteAddress' in client.conn ? client.conn.remoteAddress : undefined
      // TLS listener: identity is the certificate CN. Loopback plain listener: the client id.
      const deviceId = peer ? peer.cn : raw?.clientId
      if (!raw || !deviceId || !DEVICE_ID.test(deviceId)) {
        done(
          refuse(NOT_AUTHORIZED, 'identity', `no valid device id in the certificate CN or client id (${printable(String(deviceId))})`, client),
          false,
        )
        return
      }
      const idProblem = clientIdProblem(deviceId, raw.clientId, raw.clean)
      if (peer && idProblem) {
        done(refuse(IDENTIFIER_REJECTED, 'client_id', idProblem, client), false)
        return
      }
      if (peer) {
        const certProblem = policy.certificateProblem(peer.serial ?? '', deviceId)
        if (certProblem) {
          done(refuse(NOT_AUTHORIZED, 'certificate', certProblem, client), false)
          return
        }
      } else if (!policy.hasValidCertificate(deviceId)) {
        // Loopback plain listener: the device must still be enrolled and not revoked.
        done(refuse(NOT_AUTHORIZED, 'unknown_device', `device "${deviceId}" has no valid certificate (unknown or revoked)`, client), false)
        return
      }
      // The will is published by the broker later, as this device: it must be a topic it may write.
      if (raw.willTopic !== null && publishTopic(deviceId, raw.willTopic)?.kind !== 'status') {
        done(refuse(NOT_AUTHORIZED, 'will_topic', `last-will topic "${printable(raw.willTopic)}" is not care/${deviceId}/status`, client), false)
        return
      }
      sessions.set(client, { deviceId, serial: peer?.serial ?? null, remoteAddress })
      done(null, true)
    },

    authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
      if (client === null) {
        done(null) // the broker's own publishes (commands, wills already checked)
        return
      }
      const session = sessions.get(client)
      const topic = session ? publishTopic(session.deviceId, packet.topic) : null
      if (!session || !topic) {
        // MQTT 3.1.1 has no negative PUBACK: refusing closes the connection.
        policy.onRefused('topic', `publish to "${printable(packet.topic)}"`, session?.remoteAddress)
        done(new Error(`device ${session?.deviceId ?? '?'} may not publish to ${printable(packet.topic)}`))
        return
      }
      if (packet.qos === 2) {
        // aedes runs authorizePublish before its QoS 2 duplicate check, so every DUP resend before
        // PUBREL would be journaled again ([MQTT-4.3.3] promises exactly once). Devices use QoS 1:
        // acked = stored, and replays are harmless downstream (idempotency keys).
        policy.onRefused('qos2', `QoS 2 publish to "${printable(packet.topic)}"`, session.remoteAddress)
        done(new Error('QoS 2 is not supported; publish with QoS 1'))
        return
      }
      // A retained reading would be kept by the broker forever, per measurement name: a device could
      // fill the disk. Only a short availability message may be retained (the firmware's LWT).
      if (packet.retain && !(topic.kind === 'status' && packet.payload.length <= 16)) packet.retain = false
      // Back-pressure: aedes reads a client's next chunk only when every packet of the previous one
      // has called back (lib/client.js nextBatch), so while this commit is pending the socket is not
      // read and TCP flow control pushes back on the device: memory is bounded by one read chunk per
      // connection, not by the journal queue.
      policy.onPublish(session, topic, packet).then(
        () => done(null),
        (err: Error) => done(err),
      )
    },

    authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
      const session = sessions.get(client)
      if (session && maySubscribe(session.deviceId, sub.topic)) {
        done(null, sub)
        return
      }
      policy.onRefused('subscribe', `subscribe to "${printable(sub.topic)}"`, session?.remoteAddress)
      done(null, null) // SUBACK 0x80 for this filter; the connection stays ([MQTT-3.9.3-1] return codes)
    },
  }
}
