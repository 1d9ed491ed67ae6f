// Message-level rules of the fake Home Assistant WebSocket API (see ./home-assistant.ts): command schemas,
// voluptuous-style error texts and the auth message check. Spec §2a; HA `websocket_api/commands.py`
// (`@websocket_command` schemas extend `BASE_COMMAND_MESSAGE_SCHEMA`: unknown keys are rejected), `auth.py`.

export type CoalesceMode = 'never' | 'when-enabled' | 'always'

export interface ReceivedMessage {
  connectionId: number
  phase: 'auth' | 'command'
  message: unknown
  at: number
}

export interface ServiceCallRecord {
  via: 'ws' | 'rest'
  domain: string
  service: string
  serviceData: Record<string, unknown>
  target: Record<string, unknown> | undefined
  returnResponse: boolean
  at: number
}

export type Msg = Record<string, unknown>
type FieldType = 'str' | 'int' | 'dict' | 'bool'
type Schema = Record<string, { type: FieldType; required?: boolean }>

/** Python `repr` of a JSON value, as voluptuous' humanize_error prints it after "Got". */
function pyRepr(value: unknown): string {
  if (value === undefined || value === null) return 'None'
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (typeof value === 'string') return `'${value.replaceAll("'", "\\'")}'`
  return JSON.stringify(value)
}

function fieldOk(value: unknown, type: FieldType): boolean {
  if (type === 'str') return typeof value === 'string'
  if (type === 'int') return Number.isInteger(value) && (value as number) >= 0
  if (type === 'bool') return typeof value === 'boolean'
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `BASE_COMMAND_MESSAGE_SCHEMA.extend(schema)`: unknown keys are an error; errors sorted and joined like humanize_error. */
export function validate(msg: Msg, schema: Schema): string | null {
  const errors: string[] = []
  for (const [key, value] of Object.entries(msg)) {
    if (key === 'id' || key === 'type') continue
    const field = schema[key]
    if (!field) errors.push(`extra keys not allowed @ data['${key}']. Got ${pyRepr(value)}`)
    else if (!fieldOk(value, field.type)) errors.push(`expected ${field.type} for dictionary value @ data['${key}']. Got ${pyRepr(value)}`)
  }
  for (const [key, field] of Object.entries(schema)) {
    if (field.required && !(key in msg)) errors.push(`required key not provided @ data['${key}']. Got None`)
  }
  return errors.length ? errors.sort().join('\n') : null
}

export const SCHEMAS: Record<string, Schema> = {
  ping: {},
  get_states: {},
  get_config: {},
  subscribe_events: { event_type: { type: 'str' } },
  unsubscribe_events: { subscription: { type: 'int', required: true } },
  supported_features: { features: { type: 'dict', required: true } },
  call_service: {
    domain: { type: 'str', required: true },
    service: { type: 'str', required: true },
    target: { type: 'dict' },
    service_data: { type: 'dict' },
    return_response: { type: 'bool' },
  },
}

/** auth.py `AUTH_MESSAGE_SCHEMA`: `type: "auth"`, exclusive `access_token` | `api_password` (str), nothing else. */
export function authFormatError(msg: unknown): string | null {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return `expected a dictionary. Got ${pyRepr(msg)}`
  const m = msg as Msg
  if (!('type' in m)) return "required key not provided @ data['type']. Got None"
  if (m.type !== 'auth') return `not a valid value for dictionary value @ data['type']. Got ${pyRepr(m.type)}`
  if ('access_token' in m && 'api_password' in m) return "two or more values in the same group of exclusion 'auth' @ data[<auth>]"
  for (const key of Object.keys(m)) {
    if (key !== 'type' && key !== 'access_token' && key !== 'api_password') return `extra keys not allowed @ data['${key}']. Got ${pyRepr(m[key])}`
    if (key !== 'type' && typeof m[key] !== 'string') return `expected str for dictionary value @ data['${key}']. Got ${pyRepr(m[key])}`
  }
  return null
}

export function tryParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
