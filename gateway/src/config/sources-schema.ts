import { z } from 'zod'

/** Home Assistant and LG ThinQ sources (issue 6). Tokens and webhook secrets are not here: they are encrypted secrets. */

const WEBHOOK_CLIENT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/

const EntityRule = z.strictObject({
  match: z.string().min(1).max(255).describe('Entity id glob, e.g. "sensor.kitchen_*" (first matching rule wins).'),
  device: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'a device id: lowercase letters, digits, "_" or "-"' })
    .optional()
    .describe('CareHub device the entity belongs to (default: ha_<entity id>).'),
  measurement: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/)
    .optional()
    .describe('Measurement to record the state as (with field)…'),
  field: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/)
    .optional()
    .describe('…and field (no unit conversion when you choose).'),
  ignore: z.boolean().optional().describe('Do not record this entity.'),
})

export const HomeAssistantSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Feature flag: take readings from Home Assistant.'),
    url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Base URL of Home Assistant, e.g. http://homeassistant.local:8123 (WebSocket + REST; token: secret homeassistant.token).'),
    websocket: z.boolean().default(true).describe('Follow state changes over the WebSocket API (REST polling is the fallback).'),
    pollSeconds: z.int().min(5).max(3600).default(60).describe('REST polling interval while the WebSocket is unavailable.'),
    pingSeconds: z.int().min(5).max(300).default(30).describe('WebSocket liveness: a ping this often; no pong within 10 s reconnects.'),
    entities: z.array(EntityRule).max(500).default([]).describe('Mapping rules; entities no rule matches use the defaults (README).'),
    webhook: z
      .strictObject({
        clients: z
          .array(
            z.strictObject({
              id: z.string().regex(WEBHOOK_CLIENT_ID, { error: 'lowercase letters, digits, "_" or "-"' }),
              mode: z
                .enum(['hmac', 'bearer'])
                .default('hmac')
                .describe(
                  'hmac: signed body + timestamp (secret ha-webhook.<id>); bearer: the secret as a bearer token — weaker, no replay protection.',
                ),
              perMinute: z
                .int()
                .min(1)
                .max(100_000)
                .default(600)
                .describe('Requests per minute this client may send (burst: a tenth of it, at least 10).'),
            }),
          )
          .max(50)
          .default([])
          .describe('Who may POST /api/ingest/ha/<id>. Empty: the webhook is off.'),
        maxSkewSeconds: z
          .int()
          .min(30)
          .max(3600)
          .default(300)
          .describe('A signed request whose X-Timestamp is further from the box clock is refused (both directions).'),
      })
      .prefault({}),
  })
  .prefault({})
  .describe('Home Assistant: signed webhook, WebSocket event stream, REST fallback.')

export type HomeAssistantConfig = z.output<typeof HomeAssistantSchema>

export const ThinqSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Feature flag: poll LG ThinQ appliances (personal access token: secret thinq.pat).'),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, { error: 'the ISO 3166 country code of the LG account, e.g. DE' })
      .default('DE')
      .describe('Country of the LG account: chooses the region (kic/aic/eic) and the x-country header.'),
    apiKey: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe("LG's public application key shipped in the ThinQ Connect SDKs (API_KEY in thinqconnect/const.py); required when enabled."),
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Override the API base URL (default: https://api-<region>.lgthinq.com).'),
    clientId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{8,64}$/)
      .optional()
      .describe('x-client-id, stable per installation (default: carehub-<gateway id>); LG may block installations that create many.'),
    pollSeconds: z.int().min(15).max(600).default(30).describe('Seconds between polls of an appliance…'),
    pollSecondsByType: z
      .record(z.string().regex(/^DEVICE_[A-Z_]+$/), z.int().min(15).max(3600))
      .default({ DEVICE_REFRIGERATOR: 60, DEVICE_AIR_PURIFIER: 60 })
      .describe('…or for a device type (e.g. DEVICE_REFRIGERATOR: 60).'),
    requestsPerHour: z
      .int()
      .min(10)
      .max(100_000)
      .default(600)
      .describe('Requests to LG per hour at most (LG has an unpublished per-user hourly limit; stay well under it).'),
    timeoutMs: z.int().min(1000).max(60_000).default(15_000).describe('A request to LG taking longer fails (the SDKs use 15 s).'),
  })
  .refine((t) => !t.enabled || t.apiKey !== undefined, { error: 'thinq.apiKey is required when thinq.enabled is true', path: ['apiKey'] })
  .prefault({})
  .describe('LG ThinQ appliances through the ThinQ Connect open API.')

export type ThinqConfig = z.output<typeof ThinqSchema>
