import { getRouterParam, type H3, HTTPError, readValidatedBody } from 'h3'
import { z } from 'zod'
import { type CommandOutcome, type CommandStatus, type DeviceCommander, MAX_PARAMS_BYTES, MAX_TIMEOUT_MS } from '../../actions/device-command.js'
import { CAPABILITY } from '../../broker/identity.js'
import { ERRORS, type ErrorCode } from '../../core/errors.js'
import { getDevice } from '../../store/devices.js'
import type { Db } from '../../store/open.js'
import { actorOf, clientOf, requirePermission } from '../_internal/authenticate.js'
import { type Problem, problemResponse } from '../_internal/problem.js'

export const DeviceCommandBody = z.strictObject({
  capability: z.string().regex(CAPABILITY, 'a letter, then up to 63 letters, digits, _ . -'),
  params: z
    .record(z.string(), z.unknown())
    .refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PARAMS_BYTES, `at most ${MAX_PARAMS_BYTES} bytes of JSON`)
    .optional(),
  /** How long to wait for the device (default 5 s). */
  timeoutMs: z.number().int().min(100).max(MAX_TIMEOUT_MS).optional(),
})

export interface DeviceCommandRouteDeps {
  readonly db: () => Db
  readonly commands: () => DeviceCommander
}

/** The catalogue code of each outcome that is not ok (HTTP status from core/errors.ts). */
const CODES: Readonly<Record<Exclude<CommandStatus, 'ok'>, ErrorCode>> = {
  refused: 'CAREHUB_ERR_COMMAND_REFUSED',
  timeout: 'CAREHUB_ERR_COMMAND_TIMEOUT',
  unavailable: 'CAREHUB_ERR_COMMAND_UNAVAILABLE',
  failed: 'CAREHUB_ERR_COMMAND_FAILED',
}

/**
 * POST /api/devices/:id/command `{capability, params?, timeoutMs?}`: ok → 200 with the outcome; else
 * problem+json (refused 422, timeout 504, unavailable 503, failed 502) carrying the outcome, so the
 * client sees the correlation id and the device's or upstream's reason.
 */
export function deviceCommandRoutes(app: H3, deps: DeviceCommandRouteDeps): void {
  app.post('/api/devices/:id/command', async (event) => {
    const p = requirePermission(event, 'devices:command')
    const id = getRouterParam(event, 'id', { decode: true }) ?? ''
    const body = await readValidatedBody(event, DeviceCommandBody)
    if (!getDevice(deps.db(), id)) throw new HTTPError({ status: 404, message: `no device "${id.slice(0, 64)}"` })
    const requestId = event.context.requestId
    const outcome = await deps.commands().run({
      deviceId: id,
      capability: body.capability,
      params: body.params ?? {},
      actor: actorOf(p),
      ...(body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs }),
      ...(requestId === undefined ? {} : { requestId }),
      ip: clientOf(event).ip,
    })
    if (outcome.status === 'ok') return outcome
    return commandProblem(outcome, requestId)
  })
}

/** A command that did not succeed, as RFC 9457 problem+json — not thrown: it is an answer, not a gateway error. */
export function commandProblem(outcome: CommandOutcome, requestId: string | undefined): Response {
  const code = CODES[outcome.status as Exclude<CommandStatus, 'ok'>]
  const problem: Problem & { outcome: CommandOutcome } = {
    type: `urn:carehub:error:${code}`,
    title: ERRORS[code].title,
    status: ERRORS[code].http,
    detail: outcome.detail ?? ERRORS[code].title,
    code,
    requestId,
    outcome,
  }
  return problemResponse(problem)
}
