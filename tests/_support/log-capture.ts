import type { DestinationStream, Logger } from 'pino'
import { createLogger } from '../../gateway/src/system/logger.js'

/** A real pino logger whose lines the test reads back (pino's advice: read the stream, don't mock). */
export function captureLogger(
  level = 'debug',
  wrap: (d: DestinationStream) => DestinationStream = (d) => d,
): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = []
  const destination: DestinationStream = { write: (line: string) => void raw.push(line) }
  const log = createLogger({ level, destination: wrap(destination) })
  return { log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) }
}
