import pino, { type Logger } from 'pino'

/**
 * A line a worker thread's pino wrote (JSON), logged again through the gateway's logger: its level,
 * its destination, its recent-errors ring. `who` names the worker if the line is not JSON.
 */
export function relogWorkerLine(log: Logger, line: string, who: string): void {
  try {
    const { level, msg, time: _time, pid: _pid, hostname: _host, ...fields } = JSON.parse(line) as Record<string, unknown>
    const label = pino.levels.labels[level as number] as pino.Level | undefined
    log[label ?? 'info'](fields, typeof msg === 'string' ? msg : '')
  } catch {
    log.warn({ line: line.slice(0, 500) }, `the ${who} wrote a log line that is not JSON`)
  }
}
