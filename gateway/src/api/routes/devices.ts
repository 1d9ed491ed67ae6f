import { getQuery, getRouterParam, type H3, HTTPError, readValidatedBody } from 'h3'
import { z } from 'zod'
import { DEVICE_ID } from '../../broker/identity.js'
import type { Clock } from '../../core/clock.js'
import { CarehubError } from '../../core/errors.js'
import { appendAudit } from '../../store/audit.js'
import { certificatesOf } from '../../store/device-certificates.js'
import { type Device, ensureDevice, getDevice, listDevices, updateDeviceMetadata } from '../../store/devices.js'
import { latestReadings } from '../../store/journal-reads.js'
import type { Db } from '../../store/open.js'
import { actorOf, clientOf, requirePermission } from '../_internal/authenticate.js'

export const DeviceQuery = z.strictObject({
  source: z.enum(['mqtt', 'homeassistant', 'thinq', 'virtual']).optional(),
  type: z.string().max(64).optional(),
  room: z.string().max(64).optional(),
  after: z.string().max(64).optional().describe('Next page: devices whose id sorts after this one (the last id of the page before).'),
  limit: z.coerce.number().int().min(1).max(500).default(100).describe('Devices per page. A Link header (rel="next") points to the next page.'),
})

const Metadata = {
  type: z.string().min(1).max(32).optional(),
  name: z.string().max(80).nullable().optional(),
  room: z.string().max(64).nullable().optional(),
  capabilities: z
    .array(z.string().regex(/^[a-z][a-z0-9_:.-]{0,63}$/))
    .max(64)
    .optional(),
  metadata: z.record(z.string().max(64), z.unknown()).optional(),
}
// MQTT devices are created by enrolment (carehub device add: certificate + registration together).
export const NewDevice = z.strictObject({ id: z.string().regex(DEVICE_ID), source: z.enum(['homeassistant', 'thinq', 'virtual']), ...Metadata })
export const DeviceUpdate = z.strictObject(Metadata)

export interface DeviceRouteDeps {
  readonly db: () => Db
  readonly isSilent: (deviceId: string) => boolean
  readonly clock: Clock
}

/** GET /api/devices?source&type&room&limit&after (page by page) and GET /api/devices/:id (with latest readings and certificates). */
export function deviceRoutes(app: H3, deps: DeviceRouteDeps): void {
  app.get('/api/devices', (event) => {
    requirePermission(event, 'devices:read')
    const query = DeviceQuery.safeParse(getQuery(event))
    if (!query.success) throw new HTTPError({ status: 400, message: 'invalid filter or page', data: { issues: query.error.issues } })
    const { limit, after, ...filter } = query.data
    // One more than asked: whether a next page exists, without a count over the whole table.
    const devices = listDevices(deps.db(), filter, { limit: limit + 1, after })
    if (devices.length > limit) {
      devices.length = limit
      event.res.headers.set('link', nextPageLink(event.url, (devices.at(-1) as Device).id))
    }
    return devices.map((d) => ({ ...d, silent: deps.isSilent(d.id) }))
  })

  app.post('/api/devices', async (event) => {
    const p = requirePermission(event, 'devices:write')
    const body = await readValidatedBody(event, NewDevice)
    const db = deps.db()
    const now = deps.clock.now()
    if (getDevice(db, body.id)) throw new CarehubError('CAREHUB_ERR_CONFLICT', `a device "${body.id}" already exists`)
    db.transaction(() => {
      ensureDevice(db, { id: body.id, source: body.source }, now)
      updateDeviceMetadata(db, body.id, body, now)
      appendAudit(db, {
        at: now,
        actor: actorOf(p),
        action: 'device.create',
        target: `device:${body.id}`,
        ip: clientOf(event).ip,
        detail: { after: body },
      })
    }).immediate()
    event.res.status = 201
    return getDevice(db, body.id)
  })

  app.put('/api/devices/:id', async (event) => {
    const p = requirePermission(event, 'devices:write')
    const id = getRouterParam(event, 'id', { decode: true }) ?? ''
    const body = await readValidatedBody(event, DeviceUpdate)
    const db = deps.db()
    const now = deps.clock.now()
    const before = getDevice(db, id)
    if (!before) throw new HTTPError({ status: 404, message: `no device "${id.slice(0, 64)}"` })
    db.transaction(() => {
      updateDeviceMetadata(db, id, body, now)
      const after = getDevice(db, id)
      appendAudit(db, {
        at: now,
        actor: actorOf(p),
        action: 'device.update',
        target: `device:${id}`,
        ip: clientOf(event).ip,
        detail: { before: meta(before), after: after && meta(after) },
      })
    }).immediate()
    return getDevice(db, id)
  })

  app.get('/api/devices/:id', (event) => {
    requirePermission(event, 'devices:read')
    const id = getRouterParam(event, 'id', { decode: true }) ?? ''
    const db = deps.db()
    const device = getDevice(db, id)
    if (!device) throw new HTTPError({ status: 404, message: `no device "${id.slice(0, 64)}"` })
    return {
      ...device,
      silent: deps.isSilent(id),
      latest: latestReadings(db, id),
      certificates: certificatesOf(db, id).map(({ fingerprintSha256: _fp, ...c }) => c),
    }
  })
}

const meta = (d: Device) => ({ type: d.type, name: d.name, room: d.room, capabilities: d.capabilities, metadata: d.metadata })

/**
 * A list's next page as an RFC 8288 Link header: the same request with `after` moved on. A big
 * fleet is read page by page; a whole list of 1,000 devices held the event loop ~7 ms per request.
 */
function nextPageLink(url: URL, lastId: string): string {
  const next = new URLSearchParams(url.searchParams)
  next.set('after', lastId)
  return `<${url.pathname}?${next}>; rel="next"`
}
