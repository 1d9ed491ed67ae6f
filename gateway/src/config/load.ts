import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import type { z } from 'zod'
import { CarehubError } from '../core/errors.js'
import { deepFreeze } from './deep-freeze.js'
import { applyEnvOverrides } from './env.js'
import { type Config, ConfigSchema } from './schema.js'

export const DEFAULT_CONFIG_PATH = 'config/gateway.yaml'

/** Top-level keys that are mappings (sections), read off the schema's defaults. */
const SECTIONS: ReadonlySet<string> = new Set(
  Object.entries(ConfigSchema.parse({}))
    .filter(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v))
    .map(([k]) => k),
)

export interface LoadedConfig {
  readonly config: Readonly<Config>
  /** The file the config came from, or null when running on embedded defaults. */
  readonly source: string | null
}

/**
 * Load the configuration: YAML file (CAREHUB_CONFIG, else config/gateway.yaml if present, else
 * embedded defaults) + CAREHUB_* environment overrides, validated once by the zod schema, then
 * deep-frozen. `cwd` anchors relative paths so tests and the CLI agree with `npm start`.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, cwd: string): LoadedConfig {
  const explicit = env.CAREHUB_CONFIG
  const path = explicit ? resolve(cwd, explicit) : resolve(cwd, DEFAULT_CONFIG_PATH)
  let raw: unknown = {}
  let source: string | null = null
  if (explicit || existsSync(path)) {
    raw = readYaml(path)
    source = path
  }
  const merged = applyEnvOverrides(raw, env)
  const result = ConfigSchema.safeParse(merged)
  if (!result.success) {
    throw new CarehubError('CAREHUB_ERR_CONFIG_INVALID', `${source ?? 'configuration'}: ${formatIssues(result.error.issues)}`, {
      details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    })
  }
  const rulesFile = result.data.automations.rulesFile
  const config = {
    ...result.data,
    dataDir: resolve(cwd, result.data.dataDir),
    // A rules file sits next to the config file it is named in.
    automations: { ...result.data.automations, ...(rulesFile ? { rulesFile: resolve(source ? dirname(source) : cwd, rulesFile) } : {}) },
  }
  return { config: deepFreeze(config), source }
}

/** Read and parse a YAML file; unreadable or malformed files are config errors naming line and column. */
export function readYaml(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file (check CAREHUB_CONFIG)' : code === 'EACCES' ? 'permission denied' : String(err)
    throw new CarehubError('CAREHUB_ERR_CONFIG_UNREADABLE', `${path}: ${why}`, { cause: err })
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const first = doc.errors[0]
    const where = first?.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : ''
    throw new CarehubError('CAREHUB_ERR_CONFIG_INVALID', `${path}: not valid YAML${where}: ${first?.message.split('\n')[0] ?? 'parse error'}`)
  }
  const value: unknown = doc.toJS()
  // An empty file means "all defaults", like no file at all; so does a section whose keys are all
  // commented out (`gateway:` followed only by comments reads as null).
  if (value === null || value === undefined) return {}
  if (typeof value === 'object' && !Array.isArray(value)) {
    // Only known sections: an unknown key or an empty scalar must still be reported.
    return Object.fromEntries(Object.entries(value).filter(([k, v]) => !(v === null && SECTIONS.has(k))))
  }
  return value
}

/** One line per problem, naming the key and what was expected: "http.port: expected int, received string". */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.')
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k))
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')} (see config/gateway.example.yaml for the valid keys)`
      }
      return `${path || '(top level)'}: ${issue.message}`
    })
    .join('; ')
}
