import type { Role } from '../store/users.js'

/**
 * Who may do what — the written permission table (README "Accounts and security"). Every API route
 * names one permission; the table is the only place roles are interpreted.
 */
export const PERMISSIONS = [
  'telemetry:read', // readings, series, presets, latest values
  'devices:read',
  'devices:write', // metadata, enrolment, revocation
  'devices:command', // send a command to a device (MQTT, ThinQ, Home Assistant)
  'rules:read', // rules, their traces, dry-runs and backtests
  'rules:write',
  'alerts:read', // alerts and the live alert stream
  'alerts:ack', // acknowledge, snooze, resolve
  'users:manage',
  'audit:read',
  'logs:read',
  'metrics:read',
] as const

export type Permission = (typeof PERMISSIONS)[number]

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  // The family member responsible for the box: everything.
  admin: PERMISSIONS,
  // Looks after the person: sees everything about them, operates their devices, changes rules, acknowledges alerts.
  caregiver: ['telemetry:read', 'devices:read', 'devices:command', 'rules:read', 'rules:write', 'alerts:read', 'alerts:ack'],
  // Sets the hardware up: devices and diagnostics, not rules or people's accounts.
  installer: ['telemetry:read', 'devices:read', 'devices:write', 'rules:read', 'alerts:read', 'metrics:read'],
  // Reads only.
  viewer: ['telemetry:read', 'devices:read', 'rules:read', 'alerts:read'],
}

export function can(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission)
}
