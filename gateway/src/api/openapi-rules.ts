import { z } from 'zod'
import { RuleSchema } from '../rules/rule-model.js'
import type { RouteDoc } from './openapi.js'
import { AlertQuery, SnoozeBody } from './routes/alerts.js'
import { BacktestQuery, TestBody, TraceQuery } from './routes/automations.js'
import { AlertSchema, BacktestSchema, DryRunSchema, RuleViewSchema, TracesSchema } from './rule-response-schemas.js'

const NOT_FOUND = { 404: 'no such rule or alert' }

/** The rules and alerts routes (issue 7), listed with the rest in openapi.ts. */
export const RULE_ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/api/automations',
    summary: 'Rules, with their live state',
    access: 'rules:read',
    ok: { status: 200, description: 'rules', schema: z.array(RuleViewSchema) },
  },
  {
    method: 'post',
    path: '/api/automations',
    summary: 'Create a rule',
    access: 'rules:write',
    body: RuleSchema,
    ok: { status: 201, description: 'the rule, running', schema: RuleViewSchema },
    problems: { 409: 'a rule with this id exists' },
  },
  {
    method: 'get',
    path: '/api/automations/{id}',
    summary: 'One rule',
    access: 'rules:read',
    ok: { status: 200, description: 'the rule', schema: RuleViewSchema },
    problems: NOT_FOUND,
  },
  {
    method: 'put',
    path: '/api/automations/{id}',
    summary: 'Replace a rule (its state starts afresh when the definition changes)',
    access: 'rules:write',
    body: RuleSchema,
    ok: { status: 200, description: 'the rule', schema: RuleViewSchema },
    problems: { ...NOT_FOUND, 409: 'the rule comes from the rules file' },
  },
  {
    method: 'delete',
    path: '/api/automations/{id}',
    summary: 'Delete a rule (its alerts stay)',
    access: 'rules:write',
    ok: { status: 204, description: 'deleted' },
    problems: { ...NOT_FOUND, 409: 'the rule comes from the rules file' },
  },
  {
    method: 'get',
    path: '/api/automations/{id}/traces',
    summary: 'Why the rule fired, cleared or nearly fired, with the values seen (newest first)',
    access: 'rules:read',
    query: TraceQuery,
    ok: { status: 200, description: 'traces', schema: TracesSchema },
    problems: NOT_FOUND,
  },
  {
    method: 'post',
    path: '/api/automations/{id}/test',
    summary: 'Dry-run the rule against supplied readings, from its live state or fresh: what would fire, and why (not)',
    access: 'rules:read',
    body: TestBody,
    ok: { status: 200, description: 'effects, traces and the condition as it stands at the end', schema: DryRunSchema },
    problems: NOT_FOUND,
  },
  {
    method: 'post',
    path: '/api/automations/{id}/backtest',
    summary: 'Replay stored history through the rule: when it would have fired',
    access: 'rules:read',
    query: BacktestQuery,
    ok: { status: 200, description: 'firings, clears and near misses by reason', schema: BacktestSchema },
    problems: NOT_FOUND,
  },
  {
    method: 'get',
    path: '/api/alerts',
    summary: 'Alerts, newest first',
    access: 'alerts:read',
    query: AlertQuery,
    ok: { status: 200, description: 'alerts', schema: z.array(AlertSchema) },
  },
  {
    method: 'get',
    path: '/api/alerts/{id}',
    summary: 'One alert',
    access: 'alerts:read',
    ok: { status: 200, description: 'the alert', schema: AlertSchema },
    problems: NOT_FOUND,
  },
  {
    method: 'post',
    path: '/api/alerts/{id}/read',
    summary: 'Mark read (for the signed-in person)',
    access: 'alerts:read',
    ok: { status: 200, description: 'the alert', schema: AlertSchema },
    problems: NOT_FOUND,
  },
  ...(['ack', 'resolve'] as const).map(
    (action): RouteDoc => ({
      method: 'post',
      path: `/api/alerts/{id}/${action}`,
      summary: action === 'ack' ? 'Acknowledge: someone is on it' : 'Resolve',
      access: 'alerts:ack',
      ok: { status: 200, description: 'the alert', schema: AlertSchema },
      problems: { ...NOT_FOUND, 409: 'the alert is in a state that does not allow it (e.g. already resolved)' },
    }),
  ),
  {
    method: 'post',
    path: '/api/alerts/{id}/snooze',
    summary: 'Snooze: quiet until a time, then open again',
    access: 'alerts:ack',
    body: SnoozeBody,
    ok: { status: 200, description: 'the alert', schema: AlertSchema },
    problems: { ...NOT_FOUND, 409: 'the alert is resolved' },
  },
  {
    method: 'get',
    path: '/api/events',
    summary: 'Live stream (Server-Sent Events): `snapshot` (open alerts) first, then `alert` {event, alert} as they change',
    access: 'alerts:read',
    ok: { status: 200, description: 'text/event-stream' },
  },
]
