/** How urgent an alert is; ordered, so "warning and above" means something. */
export const SEVERITIES = ['info', 'warning', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]
