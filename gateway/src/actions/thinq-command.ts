import { isCarehubError } from '../core/errors.js'
import type { Json } from '../sources/thinq/thinq-client.js'
import type { ThinqPoller } from '../sources/thinq/thinq-poller.js'
import { ThinqError } from '../sources/thinq/thinq-protocol.js'
import type { SourceAnswer } from './device-command.js'

/**
 * The partial state document LG expects from a command: the capability names the resource, the
 * params are its properties — `operation` + `{airConOperationMode: 'POWER_ON'}` →
 * `{operation: {airConOperationMode: 'POWER_ON'}}`. Per-location appliances (washers) address a unit
 * with `location`, which LG wants at the top of the document: a `location` param is moved there.
 */
export function thinqPartialState(capability: string, params: Readonly<Record<string, unknown>>): Json {
  const { location, ...properties } = params
  return location === undefined ? { [capability]: { ...properties } } : { location, [capability]: properties }
}

/** Send a command through LG's cloud; LG's answer translated into a command outcome (never rejects). */
export async function thinqCommand(
  poller: ThinqPoller | undefined,
  deviceId: string,
  capability: string,
  params: Readonly<Record<string, unknown>>,
): Promise<SourceAnswer> {
  if (!poller) return { status: 'unavailable', detail: 'LG ThinQ is not enabled on this gateway (thinq.enabled in the config)' }
  try {
    await poller.control(deviceId, thinqPartialState(capability, params))
    return { status: 'ok' }
  } catch (err) {
    return thinqAnswer(err)
  }
}

/**
 * LG ThinQ Connect's error semantics (external-protocols §1a; thinq-protocol.ts classifies the codes):
 * the profile or the appliance's state says no (2207 unknown resource, 1102 bad value, 2201 out of
 * range, 2301–2305 remote control off / wrong state or mode / powered off) → refused with LG's
 * reason; not connected (1222) or LG's rate limit → unavailable; the token → failed; LG unreachable →
 * unavailable; 2209 "device response delay" → timeout; other server-side failures (2000, 2208) → failed.
 */
export function thinqAnswer(err: unknown): SourceAnswer {
  const detail = err instanceof Error ? err.message : String(err)
  if (!isCarehubError(err)) return { status: 'failed', detail }
  if (err.code === 'CAREHUB_ERR_NOT_FOUND') return { status: 'unavailable', detail: `${detail} (not discovered by the ThinQ poller)` }
  const cause = err.cause
  if (!(cause instanceof ThinqError)) return { status: 'failed', detail }
  switch (cause.failure) {
    case 'unsupported':
    case 'refused':
    case 'request':
      return { status: 'refused', detail }
    case 'offline':
    case 'rate':
      return { status: 'unavailable', detail }
    case 'auth':
      return { status: 'failed', detail: `${detail} — create a new personal access token and carehub secret set thinq.pat` }
    case 'transient':
      if (cause.code === '2209') return { status: 'timeout', detail }
      return { status: cause.status === 0 ? 'unavailable' : 'failed', detail }
  }
}
