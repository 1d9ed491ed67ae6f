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

/** The nice value of every thread of this process, by thread id (Linux); a thread that ends meanwhile is left out. */
export function threadNices(): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, niceOf(`/proc/self/task/${tid}/stat`))
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err
    }
  }
  return out
}

/** The ids of this process's threads that run at BACKGROUND_NICE above the main thread's value (a background worker's, and the threads it started). */
export function backgroundThreads(): Set<string> {
  const base = niceOf('/proc/self/stat')
  return new Set([...threadNices()].filter(([, n]) => n === Math.min(19, base + BACKGROUND_NICE)).map(([tid]) => tid))
}

/** True when a thread not in `before` runs at BACKGROUND_NICE (a worker started since). */
export function newBackgroundThread(before: ReadonlySet<string>): boolean {
  return [...backgroundThreads()].some((tid) => !before.has(tid))
}
