import { z } from 'zod'
import type { Permission } from '../auth/permissions.js'
import { RULE_ROUTE_DOCS } from './openapi-rules.js'
import {
  AuditEntrySchema,
  CommandOutcomeSchema,
  DeviceDetailSchema,
  DeviceListItemSchema,
  DeviceSchema,
  HaIngestReportSchema,
  HealthSchema,
  LogLineSchema,
  MfaEnrolmentSchema,
  PresetAnswerSchema,
  ReadinessSchema,
  RecoveryCodesSchema,
  SeriesSchema,
  TokenPairSchema,
  UserProfileSchema,
} from './response-schemas.js'
import { AuditQuery, LogQuery } from './routes/admin.js'
import { Login, MfaCode, Refresh } from './routes/auth.js'
import { DeviceCommandBody } from './routes/device-commands.js'
import { DeviceQuery, DeviceUpdate, NewDevice } from './routes/devices.js'
import { HaWebhookBody } from './routes/ingest-ha-schema.js'
import { SeriesQuery, TelemetryQueryDoc } from './routes/telemetry.js'
import { MeUpdate, NewUser, UserUpdate } from './routes/users.js'

/**
 * The OpenAPI 3.1 document, built from the same zod schemas the routes validate with (so the
 * document cannot drift from what is enforced). Every route the app registers must be listed here:
 * a test compares this list with the app's routes, and CI checks the committed
 * gateway/openapi.json is current (`npm run openapi`).
 */
export interface RouteDoc {
  readonly method: 'get' | 'post' | 'put' | 'delete'
  readonly path: string
  readonly summary: string
  /** 'public': no token; 'signed-in': any role; else the permission from auth/permissions.ts. */
  readonly access: 'public' | 'signed-in' | 'loopback-or-metrics:read' | Permission
  readonly body?: z.ZodType
  readonly query?: z.ZodObject
  readonly ok: { readonly status: number; readonly description: string; readonly schema?: z.ZodType }
  /** Further problem+json answers of this route, by status. */
  readonly problems?: Readonly<Record<number, string>>
}

export const ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/health',
    summary: 'Liveness',
    access: 'public',
    ok: { status: 200, description: 'the process answers', schema: HealthSchema },
  },
  {
    method: 'get',
    path: '/health/ready',
    summary: 'Readiness per part',
    access: 'public',
    ok: { status: 200, description: 'ok or degraded (503 when a critical part is down)', schema: ReadinessSchema },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    access: 'loopback-or-metrics:read',
    ok: { status: 200, description: 'text exposition format 0.0.4' },
  },
  { method: 'get', path: '/api/openapi.json', summary: 'This document', access: 'public', ok: { status: 200, description: 'OpenAPI 3.1' } },
  {
    method: 'post',
    path: '/api/auth/login',
    summary: 'Sign in (password, and a one-time code if enrolled)',
    access: 'public',
    body: Login,
    ok: { status: 200, description: 'access and refresh token', schema: TokenPairSchema },
  },
  {
    method: 'post',
    path: '/api/auth/refresh',
    summary: 'Rotate the refresh token',
    access: 'public',
    body: Refresh,
    ok: { status: 200, description: 'a new token pair', schema: TokenPairSchema },
  },
  { method: 'post', path: '/api/auth/logout', summary: 'End this session', access: 'signed-in', ok: { status: 204, description: 'session ended' } },
  {
    method: 'post',
    path: '/api/auth/magic-link',
    summary: 'Sign-in link by email (not available yet)',
    access: 'public',
    ok: { status: 501, description: 'needs the email channel' },
  },
  {
    method: 'post',
    path: '/api/auth/mfa/enroll',
    summary: 'Start TOTP enrolment',
    access: 'signed-in',
    ok: { status: 200, description: 'otpauth URI and base32 secret', schema: MfaEnrolmentSchema },
  },
  {
    method: 'post',
    path: '/api/auth/mfa/verify',
    summary: 'Confirm TOTP with a first code',
    access: 'signed-in',
    body: MfaCode,
    ok: { status: 200, description: 'one-time recovery codes', schema: RecoveryCodesSchema },
  },
  {
    method: 'get',
    path: '/api/me',
    summary: 'My account',
    access: 'signed-in',
    ok: { status: 200, description: 'profile', schema: UserProfileSchema },
  },
  {
    method: 'put',
    path: '/api/me',
    summary: 'Change my name, email or password',
    access: 'signed-in',
    body: MeUpdate,
    ok: { status: 200, description: 'profile', schema: UserProfileSchema },
  },
  {
    method: 'get',
    path: '/api/users',
    summary: 'All accounts',
    access: 'users:manage',
    ok: { status: 200, description: 'profiles', schema: z.array(UserProfileSchema) },
  },
  {
    method: 'post',
    path: '/api/users',
    summary: 'Create an account',
    access: 'users:manage',
    body: NewUser,
    ok: { status: 201, description: 'profile', schema: UserProfileSchema },
  },
  {
    method: 'get',
    path: '/api/users/{id}',
    summary: 'One account (admins, or oneself)',
    access: 'signed-in',
    ok: { status: 200, description: 'profile', schema: UserProfileSchema },
  },
  {
    method: 'put',
    path: '/api/users/{id}',
    summary: 'Change role, disable, name or email',
    access: 'users:manage',
    body: UserUpdate,
    ok: { status: 200, description: 'profile', schema: UserProfileSchema },
  },
  {
    method: 'post',
    path: '/api/users/{id}/sessions/revoke',
    summary: 'End every session of an account',
    access: 'users:manage',
    ok: { status: 204, description: 'sessions ended' },
  },
  {
    method: 'get',
    path: '/api/devices',
    summary: 'Devices, filtered, one page at a time',
    access: 'devices:read',
    query: DeviceQuery,
    ok: {
      status: 200,
      description: 'devices in id order, `limit` at most; when more follow, a Link header (RFC 8288, rel="next") gives the next page',
      schema: z.array(DeviceListItemSchema),
    },
  },
  {
    method: 'post',
    path: '/api/devices',
    summary: 'Register a non-MQTT device',
    access: 'devices:write',
    body: NewDevice,
    ok: { status: 201, description: 'device', schema: DeviceSchema },
  },
  {
    method: 'get',
    path: '/api/devices/{id}',
    summary: 'A device with its latest readings and certificates',
    access: 'devices:read',
    ok: { status: 200, description: 'device', schema: DeviceDetailSchema },
  },
  {
    method: 'put',
    path: '/api/devices/{id}',
    summary: "Change a device's metadata",
    access: 'devices:write',
    body: DeviceUpdate,
    ok: { status: 200, description: 'device', schema: DeviceSchema },
  },
  {
    method: 'post',
    path: '/api/devices/{id}/command',
    summary:
      'Send a command: MQTT devices get it on care/{id}/cmd/{capability} and answer on …/result; LG ThinQ appliances a partial state {capability: params}; Home Assistant devices the service <domain>.<service> on their entity',
    access: 'devices:command',
    body: DeviceCommandBody,
    ok: { status: 200, description: 'the device did it (outcome with correlationId and result)', schema: CommandOutcomeSchema },
    problems: {
      404: 'no such device',
      422: 'refused, by the device or its cloud, or an invalid command (CAREHUB_ERR_COMMAND_REFUSED; `outcome` in the body)',
      502: 'failed on the way (CAREHUB_ERR_COMMAND_FAILED; `outcome` in the body)',
      503: 'the device cannot be reached now: not connected, appliance offline, source disabled (CAREHUB_ERR_COMMAND_UNAVAILABLE)',
      504: 'no answer within timeoutMs (CAREHUB_ERR_COMMAND_TIMEOUT; `outcome` in the body)',
    },
  },
  {
    method: 'get',
    path: '/api/devices/{id}/series',
    summary: 'History of one field: raw readings or 1m/5m/1h rollups, the tier chosen by range and step',
    access: 'telemetry:read',
    query: SeriesQuery,
    ok: { status: 200, description: 'points, oldest first', schema: SeriesSchema },
  },
  {
    method: 'get',
    path: '/api/telemetry/query',
    summary: 'A named dashboard query (latest, room_hourly, daily_energy, door_openings, inactivity) with validated parameters',
    access: 'telemetry:read',
    query: TelemetryQueryDoc,
    ok: { status: 200, description: 'rows of the preset', schema: PresetAnswerSchema },
  },
  {
    method: 'post',
    path: '/api/ingest/ha/{client_id}',
    summary:
      'Home Assistant webhook: signed with X-Client-Id, X-Timestamp (Unix s) and X-Signature: sha256=HMAC(secret, "<timestamp>.<body>") — or a bearer secret for clients set to mode bearer. No user token.',
    access: 'public',
    body: HaWebhookBody,
    ok: { status: 200, description: 'stored (committed) before this answer', schema: HaIngestReportSchema },
  },
  {
    method: 'get',
    path: '/api/audit',
    summary: 'The audit log, newest first',
    access: 'audit:read',
    query: AuditQuery,
    ok: { status: 200, description: 'entries', schema: z.array(AuditEntrySchema) },
  },
  {
    method: 'get',
    path: '/api/logs',
    summary: 'Recent log lines (redacted)',
    access: 'logs:read',
    query: LogQuery,
    ok: { status: 200, description: 'log lines', schema: z.array(LogLineSchema) },
  },
  ...RULE_ROUTE_DOCS,
]

const PROBLEM = { $ref: '#/components/schemas/Problem' }

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  const shared: Record<string, unknown> = {}
  for (const r of ROUTE_DOCS) {
    const secured = r.access !== 'public'
    paths[r.path] ??= {}
    ;(paths[r.path] as Record<string, unknown>)[r.method] = {
      summary: r.summary,
      description: `Access: ${r.access}.`,
      ...(secured ? { security: [{ bearer: [] }] } : { security: [] }),
      ...(r.path.includes('{id}') ? { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] } : {}),
      ...(r.query ? { parameters: queryParameters(r.query) } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(r.body, 'input', shared) } },
            },
          }
        : {}),
      responses: {
        [String(r.ok.status)]: {
          description: r.ok.description,
          ...(r.ok.schema ? { content: { 'application/json': { schema: jsonSchema(r.ok.schema, 'output', shared) } } } : {}),
        },
        ...(r.body || r.query ? { 400: { description: 'invalid input', content: { 'application/problem+json': { schema: PROBLEM } } } } : {}),
        ...(secured ? { 401: { description: 'sign in first', content: { 'application/problem+json': { schema: PROBLEM } } } } : {}),
        ...(secured && r.access !== 'signed-in'
          ? { 403: { description: 'the role lacks the permission', content: { 'application/problem+json': { schema: PROBLEM } } } }
          : {}),
        ...Object.fromEntries(
          Object.entries(r.problems ?? {}).map(([status, description]) => [
            status,
            { description, content: { 'application/problem+json': { schema: PROBLEM } } },
          ]),
        ),
        429: { description: 'rate limited (Retry-After)', content: { 'application/problem+json': { schema: PROBLEM } } },
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'CareHub gateway API',
      version,
      description: 'The local API of a CareHub box. Errors are RFC 9457 problem+json with a stable CAREHUB_ERR_* code.',
    },
    servers: [{ url: 'https://{box}:8443', variables: { box: { default: 'carehub.local' } } }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        ...shared,
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string', pattern: '^CAREHUB_ERR_[A-Z_]+$' },
            requestId: { type: 'string' },
            issues: { type: 'array' },
            outcome: { type: 'object', description: 'device commands: the outcome (status, correlationId, detail)' },
          },
        },
      },
    },
  }
}

/**
 * A zod schema as JSON Schema inside the document. Recursive schemas (a rule's condition tree)
 * come with $defs that "#/…" refs point into; inside an OpenAPI document "#" is the document, so
 * the definitions move to components.schemas (named by their zod `id`) and the refs follow them.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output', shared: Record<string, unknown>): unknown {
  const json = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as Record<string, unknown>
  const defs = json.$defs as Record<string, unknown> | undefined
  if (!defs) return json
  delete json.$defs
  const rename = (name: string) => (io === 'input' ? `${name}Input` : name)
  for (const [name, def] of Object.entries(defs)) shared[rename(name)] = def
  const text = JSON.stringify(json).replace(/"#\/\$defs\/([^"]+)"/g, (_m, name: string) => `"#/components/schemas/${rename(name)}"`)
  for (const [name, def] of Object.entries(defs)) {
    shared[rename(name)] = JSON.parse(JSON.stringify(def).replace(/"#\/\$defs\/([^"]+)"/g, (_m, n: string) => `"#/components/schemas/${rename(n)}"`))
  }
  return JSON.parse(text)
}

function queryParameters(schema: z.ZodObject): Array<Record<string, unknown>> {
  const json = z.toJSONSchema(schema, { io: 'input' }) as { properties?: Record<string, unknown>; required?: string[] }
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: s,
  }))
}
