import { z } from 'zod'

/** Rules engine and rule actions (issue 7). Webhook secrets are encrypted secrets (webhook.<id>), not here. */

// A webhook target's secret is webhook.<id>: the id must be a valid secret name part.
const TargetId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'lowercase letters, digits, "_" or "-" (it names the secret webhook.<id>)' })

const FallbackCommand = z.strictObject({
  device: TargetId.describe('Device to command, e.g. a siren or an LED strip.'),
  capability: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,63}$/)
    .describe('Capability, as for POST /api/devices/:id/command.'),
  params: z.record(z.string().max(64), z.unknown()).default({}).describe('Parameters of the command.'),
})

export const AutomationsSchema = z
  .strictObject({
    rulesFile: z
      .string()
      .min(1)
      .optional()
      .describe('YAML file of rules, imported at start-up (relative paths: to the config file). Rules from it cannot be edited through the API.'),
    checkpointMs: z.int().min(100).max(60_000).default(1000).describe('Rule state that changed without firing is saved at least this often (ms).'),
    traceRetentionDays: z.int().min(1).max(365).default(14).describe('Rule traces are kept this many days…'),
    tracesPerRule: z.int().min(10).max(100_000).default(2000).describe('…and at most this many per rule (newest kept).'),
    webhooks: z
      .array(
        z.strictObject({
          id: TargetId.describe('Name rules use (webhook: { target: <id> }); the HMAC secret is the secret webhook.<id>.'),
          url: z.url({ protocol: /^https?$/ }).describe('Where the POST goes.'),
          timeoutMs: z.int().min(500).max(60_000).default(10_000).describe('One attempt may take this long.'),
          maxAttempts: z.int().min(1).max(50).default(8).describe('Attempts (backoff 2 s … 10 min) before giving up.'),
        }),
      )
      .max(50)
      .default([])
      .describe('Webhook targets rules may post to (never free URLs in a rule: no request forgery through a rule).'),
    criticalFallback: z
      .array(FallbackCommand)
      .max(10)
      .default([])
      .describe('Commands run within a second of a critical alert when it cannot be handed to the cloud (none configured, or unreachable).'),
  })
  .prefault({})

export type AutomationsConfig = z.infer<typeof AutomationsSchema>

/** The edge uploader to the cloud service (issue 8); the credential is the secret cloud.secret (carehub cloud enroll). */
export const CloudSchema = z
  .strictObject({
    batchSize: z.int().min(1).max(500).default(100).describe('Alert events per request at most.'),
    timeoutMs: z.int().min(1000).max(120_000).default(10_000).describe('One request may take this long.'),
    heartbeatSeconds: z.int().min(10).max(3600).default(60).describe('How often the box tells the cloud it is alive (with its health summary).'),
    backoffMinMs: z.int().min(100).max(60_000).default(1000).describe('First retry delay after a failure…'),
    backoffMaxMs: z.int().min(1000).max(3_600_000).default(300_000).describe('…doubling up to this.'),
  })
  .prefault({})
