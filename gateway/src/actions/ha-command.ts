import { isCarehubError } from '../core/errors.js'
import type { HaRest } from '../sources/homeassistant/ha-rest.js'
import { type Device, HA_ENTITIES } from '../store/devices.js'
import type { SourceAnswer } from './device-command.js'

const NAME = /^[a-z0-9_]+$/

/**
 * The entity a service call targets. Device ids are derived lossily from entity ids (or set for many
 * entities by a config rule), so the entity ids are learnt at ingest into `metadata.ha_entities`
 * (an installer may also set them). Among them: the one named by `params.entity_id`, else the only
 * one of the service's domain (`homeassistant.*` services take any domain).
 */
export function targetEntity(device: Device, domain: string, params: Readonly<Record<string, unknown>>): { entityId: string } | { problem: string } {
  const known = device.metadata[HA_ENTITIES]
  const entities = Array.isArray(known) ? known.filter((e): e is string => typeof e === 'string') : []
  if (entities.length === 0) {
    return {
      problem: `device "${device.id}" has no known Home Assistant entity yet (learnt when Home Assistant reports it, or set metadata.${HA_ENTITIES})`,
    }
  }
  const named = params.entity_id
  if (named !== undefined) {
    if (typeof named !== 'string' || !entities.includes(named)) {
      return { problem: `entity_id ${JSON.stringify(named)} is not one of device "${device.id}"'s entities (${entities.join(', ')})` }
    }
    return { entityId: named }
  }
  const candidates = domain === 'homeassistant' ? entities : entities.filter((e) => e.startsWith(`${domain}.`))
  const [only] = candidates
  if (candidates.length === 1 && only) return { entityId: only }
  if (candidates.length === 0) return { problem: `device "${device.id}" has no ${domain} entity (it has ${entities.join(', ')})` }
  return { problem: `device "${device.id}" has several ${domain} entities (${candidates.join(', ')}): name one in params.entity_id` }
}

/** Call a Home Assistant service for a device's entity; HA's answer as a command outcome (never rejects). */
export async function haCommand(
  rest: HaRest | undefined,
  device: Device,
  capability: string,
  params: Readonly<Record<string, unknown>>,
): Promise<SourceAnswer> {
  if (!rest) return { status: 'unavailable', detail: 'Home Assistant is not enabled on this gateway (homeassistant.enabled and url in the config)' }
  const [domain, service, ...more] = capability.split('.')
  if (!domain || !service || more.length > 0 || !NAME.test(domain) || !NAME.test(service)) {
    return { status: 'refused', detail: `"${capability}" is not a Home Assistant service: use <domain>.<service>, e.g. light.turn_on` }
  }
  const target = targetEntity(device, domain, params)
  if ('problem' in target) return { status: 'refused', detail: target.problem }
  try {
    const changed = await rest.callService(domain, service, { ...params, entity_id: target.entityId })
    const states = Array.isArray(changed) ? changed : []
    return { status: 'ok', result: { entityId: target.entityId, changed: states.map((s) => ({ entity_id: s.entity_id, state: s.state })) } }
  } catch (err) {
    return haAnswer(err)
  }
}

/** HA 400 (bad service or data) → refused; 401/403 → failed (the token); down or stopping → unavailable; a 5xx inside HA → failed. */
export function haAnswer(err: unknown): SourceAnswer {
  const detail = err instanceof Error ? err.message : String(err)
  if (!isCarehubError(err)) return { status: 'failed', detail }
  switch (err.code) {
    case 'CAREHUB_ERR_VALIDATION':
    case 'CAREHUB_ERR_NOT_FOUND':
      return { status: 'refused', detail }
    case 'CAREHUB_ERR_UNAUTHENTICATED':
      return { status: 'failed', detail }
    case 'CAREHUB_ERR_UPSTREAM_UNAVAILABLE': {
      const status = err.details?.status
      return { status: typeof status === 'number' && status >= 500 && status !== 503 ? 'failed' : 'unavailable', detail }
    }
    default:
      return { status: 'failed', detail }
  }
}
