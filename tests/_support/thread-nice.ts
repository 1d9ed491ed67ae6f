import { readdirSync, readFileSync } from 'node:fs'
import { BACKGROUND_NICE } from '../../gateway/src/system/module-worker.js'

/**
 * The nice value in a /proc/<pid>/stat (or task/<tid>/stat) file: field 19 (proc(5)), counted after
 * the command name's closing parenthesis, since the name may itself hold spaces.
 */
export function niceOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

/** The nice value of every thread of this process, by thread id (Linux). */
export function threadNices(): Map<string, number> {
  return new Map(readdirSync('/proc/self/task').map((tid) => [tid, niceOf(`/proc/self/task/${tid}/stat`)]))
}

/** How many threads of this process run at BACKGROUND_NICE (a background worker's, and the threads it started). */
export function backgroundThreads(): number {
  return [...threadNices().values()].filter((n) => n === BACKGROUND_NICE).length
}
