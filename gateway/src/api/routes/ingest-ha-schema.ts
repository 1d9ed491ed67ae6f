import { z } from 'zod'

/** For the OpenAPI document: the shapes POST /api/ingest/ha/:client_id understands (parsed leniently by statesOf). */
const HaStateDoc = z.object({
  entity_id: z.string().describe('e.g. sensor.kitchen_temperature'),
  state: z.union([z.string(), z.number(), z.boolean()]).describe('HA sends strings; "unknown"/"unavailable" mark the device unavailable'),
  attributes: z.record(z.string(), z.unknown()).optional().describe('device_class and unit_of_measurement choose the measurement'),
  last_updated: z.string().optional().describe('ISO-8601 with zone; else last_changed; else the receive time'),
  last_changed: z.string().optional(),
})

export const HaWebhookBody = z.union([
  HaStateDoc,
  z.array(HaStateDoc),
  z.object({ states: z.array(HaStateDoc) }),
  z.object({ entity_id: z.string(), new_state: HaStateDoc.nullable() }),
])
