/**
 * Reads the deployment files at the repo root (Dockerfile, compose.yaml, deploy/prometheus.yml)
 * the way Docker and Compose would, far enough to run the same commands as local processes:
 * Dockerfile stages, ENV, ENTRYPOINT/CMD; compose services with merge keys and `${VAR:-default}`
 * interpolation; volume mounts per service.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

export const ROOT = join(import.meta.dirname, '..', '..')

export interface DockerInstruction {
  keyword: string
  args: string
}

export interface DockerStage {
  name: string
  from: string
  instructions: DockerInstruction[]
}

/** Stages in order, instructions with line continuations joined and comments dropped. */
export function readDockerfile(text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')): DockerStage[] {
  const logical: string[] = []
  let pending = ''
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue
    const line = raw.trimEnd()
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      continue
    }
    const joined = (pending + line).trim()
    pending = ''
    if (joined) logical.push(joined)
  }
  const stages: DockerStage[] = []
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const upper = keyword.toUpperCase()
    if (upper === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? []
      stages.push({ name, from, instructions: [] })
    } else if (upper === 'ARG' && stages.length === 0) {
      continue // global build arguments, before the first FROM
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile: ${upper} before the first FROM`)
      stages.at(-1)!.instructions.push({ keyword: upper, args })
    }
  }
  return stages
}

/** ENV of a stage (`KEY=value` pairs, several per instruction). */
export function stageEnv(stage: DockerStage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'ENV') continue
    for (const match of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[match[1]!] = match[2]!.replace(/^"|"$/g, '')
  }
  return env
}

/** The exec-form (JSON array) argument of the stage's last `keyword` instruction. */
export function execForm(stage: DockerStage, keyword: string): string[] {
  const found = stage.instructions.filter((i) => i.keyword === keyword).at(-1)
  if (!found) throw new Error(`Dockerfile stage ${stage.name}: no ${keyword}`)
  const json = keyword === 'HEALTHCHECK' ? found.args.replace(/^.*?\bCMD\s+/, '') : found.args
  return JSON.parse(json) as string[]
}

/**
 * Compose's interpolation for the forms this file uses: `${VAR}`, `${VAR:-default}`, `$$`.
 * Anything else (`${VAR:?err}`, bare `$VAR`) is refused so the test never runs a half-read value.
 */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(/\$\$|\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (match, name?: string, fallback?: string, bare?: string) => {
    if (match === '$$') return '$'
    if (bare !== undefined || name === undefined) throw new Error(`compose.yaml: unsupported interpolation ${match}`)
    const value = env[name]
    return value === undefined || value === '' ? (fallback ?? '') : value
  })
}

export interface ComposeService {
  image?: string
  build?: string | { context: string }
  entrypoint?: string[]
  command?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  ports?: string[]
  hostname?: string
  restart?: string
  healthcheck?: { test?: string[]; disable?: boolean; interval?: string; timeout?: string; retries?: number; start_period?: string }
  depends_on?: Record<string, { condition: string }>
  stop_grace_period?: string
}

export interface ComposeFile {
  name?: string
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
}

/** compose.yaml with merge keys resolved and `${...}` interpolated from `env` (default: unset). */
export function readCompose(env: Record<string, string | undefined> = {}): ComposeFile {
  const text = readFileSync(join(ROOT, 'compose.yaml'), 'utf8')
  const parsed = parse(text, { merge: true }) as ComposeFile
  // Interpolation applies to values, after parsing (Compose does the same).
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return interpolate(value, env)
    if (Array.isArray(value)) return value.map(walk)
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]))
    return value
  }
  return walk(parsed) as ComposeFile
}

export function readPrometheusConfig(): { scrape_configs: { job_name: string; metrics_path?: string; authorization?: { type?: string; credentials_file?: string }; static_configs: { targets: string[] }[] }[] } {
  return parse(readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8'))
}

/** Named-volume mounts of a service: container path → volume name (bind mounts are left out). */
export function namedMounts(service: ComposeService): Map<string, string> {
  const mounts = new Map<string, string>()
  for (const spec of service.volumes ?? []) {
    const [source = '', target = ''] = spec.split(':')
    if (!source.startsWith('.') && !source.startsWith('/')) mounts.set(target, source)
  }
  return mounts
}

/** Bind mounts of a service: container path → path relative to the repo root. */
export function bindMounts(service: ComposeService): Map<string, string> {
  const mounts = new Map<string, string>()
  for (const spec of service.volumes ?? []) {
    const [source = '', target = ''] = spec.split(':')
    if (source.startsWith('.')) mounts.set(target, source)
  }
  return mounts
}

/** The `.dockerignore` patterns (top-level names only, which is all this repo's file uses). */
export function dockerIgnored(): string[] {
  return readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
}
