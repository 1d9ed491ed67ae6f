/**
 * Who a client is and what it may touch — pure functions, so the policy is unit-tested apart from
 * the broker. The identity is the certificate's CN (the device id), never anything the client says.
 *
 * Client id rule (decided here, documented in the README):
 * - equal to the CN, or `{cn}:{suffix}` (suffix [A-Za-z0-9_-]{1,32}) with clean session for a second
 *   session of the same device (e.g. a diagnostics subscriber next to the publisher) — a client id
 *   is a session key, two sessions with one id kick each other out, and only the plain CN may keep a
 *   persistent session (otherwise a device could create unbounded stored sessions);
 * - or empty with clean session = 1 ([MQTT-3.1.3-7] allows it; aedes then assigns `aedes_<uuid>`),
 *   because mosquitto_pub without `-i` and many firmware examples send an empty id.
 * Anything else is refused: it would let one device hold (and kick) another device's session.
 */
export const DEVICE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/
const SUFFIX = /^[A-Za-z0-9_-]{1,32}$/
const MEASUREMENT = /^[a-z][a-z0-9_]{0,63}$/
/**
 * A command's capability: one topic level under `cmd/` (MQTT), `<domain>.<service>` (Home Assistant)
 * or a ThinQ resource name, which LG spells in camelCase (`airConJobMode`) — hence upper case after
 * the first letter.
 */
export const CAPABILITY = /^[a-z][a-zA-Z0-9_.-]{0,63}$/

export function clientIdProblem(cn: string, clientId: string, cleanSession: boolean): string | null {
  if (clientId === '') return cleanSession ? null : 'an empty client id needs clean session ([MQTT-3.1.3-8])'
  if (clientId === cn) return null
  if (clientId.startsWith(`${cn}:`) && SUFFIX.test(clientId.slice(cn.length + 1))) {
    return cleanSession
      ? null
      : `client id "${printable(clientId)}": only "${cn}" may keep a persistent session; connect "${cn}:…" with clean session`
  }
  return `client id "${printable(clientId)}" does not belong to certificate CN "${cn}" (use "${cn}" or "${cn}:<suffix>")`
}

/** A publish topic this device may use, classified; null when it is not allowed. */
export type PublishTopic =
  | { readonly kind: 'reading'; readonly measurement: string }
  | { readonly kind: 'status' }
  | { readonly kind: 'command-result'; readonly capability: string }

/**
 * ACL for publishing: `care/{cn}/{measurement}` (a reading), `care/{cn}/status` (availability,
 * typically the device's retained LWT) and `care/{cn}/cmd/{capability}/result` (the device's answer
 * to a command). The rest of `care/{cn}/cmd/…` is written by the box only.
 */
export function publishTopic(cn: string, topic: string): PublishTopic | null {
  const parts = topic.split('/')
  if (parts.length === 5 && parts[0] === 'care' && parts[1] === cn && parts[2] === 'cmd' && parts[4] === 'result') {
    const capability = parts[3] as string
    return CAPABILITY.test(capability) ? { kind: 'command-result', capability } : null
  }
  if (parts.length !== 3 || parts[0] !== 'care' || parts[1] !== cn) return null
  const leaf = parts[2] as string
  if (leaf === 'status') return { kind: 'status' }
  if (leaf === 'cmd' || !MEASUREMENT.test(leaf)) return null
  return { kind: 'reading', measurement: leaf }
}

/** ACL for subscribing: only the device's own command topics, `care/{cn}/cmd/#` or below. */
export function maySubscribe(cn: string, topicFilter: string): boolean {
  const prefix = `care/${cn}/cmd`
  if (topicFilter === prefix || topicFilter === `${prefix}/#`) return true
  if (!topicFilter.startsWith(`${prefix}/`)) return false
  // Below cmd/: plain levels and single-level wildcards; '#' only as the last level.
  const rest = topicFilter.slice(prefix.length + 1).split('/')
  return rest.every((level, i) => level === '+' || (level === '#' && i === rest.length - 1) || /^[A-Za-z0-9_.-]{1,64}$/.test(level))
}

/** Show an untrusted string in a log line or error without control characters. */
export function printable(text: string, max = 80): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f\ufffd]/g, '?')
  return clean.length > max ? `${clean.slice(0, max)}…` : clean
}
