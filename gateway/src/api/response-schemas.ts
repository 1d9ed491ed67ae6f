import { z } from 'zod'
import { ROLES } from '../store/users.js'

/**
 * What the API answers, as zod schemas: the OpenAPI document describes responses with them, and
 * the contract tests parse every real response with them (so a handler cannot drift from its
 * documented shape unnoticed).
 */
export const TokenPairSchema = z.strictObject({
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().positive(),
})

export const UserProfileSchema = z.strictObject({
  id: z.number().int(),
  username: z.string(),
  role: z.enum(ROLES),
  displayName: z.string().nullable(),
  email: z.string().nullable(),
  disabled: z.boolean(),
  mfaEnabled: z.boolean(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  passwordChangedAt: z.number().int(),
})

const FieldValue = z.union([z.number(), z.boolean(), z.string()])

export const ReadingSchema = z.strictObject({
  seq: z.number().int(),
  deviceId: z.string(),
  measurement: z.string(),
  fields: z.record(z.string(), FieldValue),
  tags: z.record(z.string(), z.string()),
  ts: z.number().int(),
  tsFromReceipt: z.boolean(),
  receivedAt: z.number().int(),
  source: z.string(),
  anomalies: z.array(z.string()),
})

export const DeviceSchema = z.strictObject({
  id: z.string(),
  source: z.enum(['mqtt', 'homeassistant', 'thinq', 'virtual']),
  type: z.string(),
  name: z.string().nullable(),
  room: z.string().nullable(),
  capabilities: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  availability: z.enum(['unknown', 'online', 'offline', 'unavailable']),
  lastSeenAt: z.number().int().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
})

export const DeviceListItemSchema = DeviceSchema.extend({ silent: z.boolean() })

export const DeviceDetailSchema = DeviceListItemSchema.extend({
  latest: z.array(ReadingSchema),
  certificates: z.array(
    z.strictObject({
      serial: z.string(),
      deviceId: z.string(),
      notBefore: z.number().int(),
      notAfter: z.number().int(),
      issuedAt: z.number().int(),
      revokedAt: z.number().int().nullable(),
      revocationReason: z.string().nullable(),
    }),
  ),
})

export const AuditEntrySchema = z.strictObject({
  id: z.number().int(),
  at: z.number().int(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.enum(['ok', 'denied', 'failed']),
  ip: z.string().nullable(),
  requestId: z.string().nullable(),
  detail: z.unknown(),
  hash: z.string().nullable(),
})

export const LogLineSchema = z.looseObject({ level: z.string(), time: z.string(), msg: z.string().optional() })

export const MfaEnrolmentSchema = z.strictObject({ otpauthUri: z.string().startsWith('otpauth://totp/'), secret: z.string() })
export const RecoveryCodesSchema = z.strictObject({ recoveryCodes: z.array(z.string()).length(10) })

export const HealthSchema = z.strictObject({ status: z.literal('ok'), version: z.string(), uptimeSeconds: z.number().int() })
export const ReadinessSchema = z.looseObject({
  status: z.enum(['ok', 'degraded', 'down']),
  checks: z.record(z.string(), z.looseObject({ status: z.enum(['ok', 'degraded', 'down']), critical: z.boolean(), detail: z.string().optional() })),
})

const StateStats = z.record(z.string(), z.strictObject({ ms: z.number(), entries: z.number().int(), n: z.number().int() }))

export const SeriesSchema = z.strictObject({
  deviceId: z.string(),
  measurement: z.string(),
  field: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  tier: z.enum(['raw', '1m', '5m', '1h']),
  stepMs: z.number().int(),
  points: z.array(
    z.union([
      z.strictObject({ t: z.number().int(), value: FieldValue, anomaly: z.boolean() }),
      z.strictObject({
        t: z.number().int(),
        count: z.number().int(),
        avg: z.number().nullable(),
        min: z.number().nullable(),
        max: z.number().nullable(),
        sum: z.number().nullable(),
        last: FieldValue.nullable(),
        changes: z.number().int(),
        states: StateStats.nullable(),
        anomalies: z.number().int(),
      }),
    ]),
  ),
})

export const PresetAnswerSchema = z.strictObject({
  preset: z.string(),
  params: z.record(z.string(), z.unknown()),
  generatedAt: z.number().int(),
  rows: z.array(z.record(z.string(), z.unknown())),
})

export const HaIngestReportSchema = z.strictObject({
  accepted: z.number().int(),
  unavailable: z.number().int(),
  ignored: z.number().int(),
  rejected: z.array(z.strictObject({ entityId: z.string(), reason: z.string() })),
})

/** A device command's outcome (actions/device-command.ts): the 200 answer, and `outcome` in the problem of any other. */
export const CommandOutcomeSchema = z.strictObject({
  status: z.enum(['ok', 'refused', 'timeout', 'failed', 'unavailable']),
  correlationId: z.string(),
  deviceId: z.string(),
  capability: z.string(),
  ms: z.number().int(),
  result: z.unknown().optional(),
  detail: z.string().optional(),
})
