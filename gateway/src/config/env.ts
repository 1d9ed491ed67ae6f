import { CarehubError } from '../core/errors.js'
import { LOG_LEVELS } from './schema.js'

/**
 * CAREHUB_* environment variables override the file (CONTRACT "Environment"). Each variable is
 * converted here so a bad value is reported by the variable's name, not as a schema path the
 * user never wrote.
 */
type Converter = (raw: string, name: string) => unknown

const asPort: Converter = (raw, name) => {
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(port >= 1 && port <= 65535)) throw badEnv(name, raw, 'a port number 1–65535')
  return port
}
const asLogLevel: Converter = (raw, name) => {
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw badEnv(name, raw, `one of ${LOG_LEVELS.join(', ')}`)
  return raw
}
const asString: Converter = (raw) => raw
const asOnOff: Converter = (raw, name) => {
  const v = raw.toLowerCase()
  if (['on', 'true', '1', 'yes'].includes(v)) return true
  if (['off', 'false', '0', 'no'].includes(v)) return false
  throw badEnv(name, raw, '"on" or "off"')
}

const OVERRIDES: ReadonlyArray<{ name: string; path: readonly string[]; convert: Converter }> = [
  { name: 'CAREHUB_DATA_DIR', path: ['dataDir'], convert: asString },
  { name: 'CAREHUB_HTTP_PORT', path: ['http', 'port'], convert: asPort },
  { name: 'CAREHUB_MQTT_PORT', path: ['mqtt', 'port'], convert: asPort },
  { name: 'CAREHUB_BIND', path: ['bind'], convert: asString },
  { name: 'CAREHUB_MDNS', path: ['mdns', 'enabled'], convert: asOnOff },
  { name: 'CAREHUB_LOG_LEVEL', path: ['log', 'level'], convert: asLogLevel },
]

export const ENV_VARIABLES = OVERRIDES.map((o) => o.name)

function badEnv(name: string, raw: string, expected: string): CarehubError {
  return new CarehubError('CAREHUB_ERR_CONFIG_INVALID', `environment variable ${name}="${raw}": expected ${expected}`)
}

export function applyEnvOverrides(raw: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    // Leave it to the schema to say the top level must be a mapping.
    return raw
  }
  const out = structuredClone(raw) as Record<string, unknown>
  for (const { name, path, convert } of OVERRIDES) {
    const value = env[name]
    if (value === undefined || value === '') continue
    let node = out
    for (const key of path.slice(0, -1)) {
      const next = node[key]
      if (next === undefined) node[key] = {}
      else if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        throw new CarehubError('CAREHUB_ERR_CONFIG_INVALID', `${path.slice(0, -1).join('.')}: expected a mapping (needed by ${name})`)
      }
      node = node[key] as Record<string, unknown>
    }
    node[path[path.length - 1] as string] = convert(value, name)
  }
  return out
}
