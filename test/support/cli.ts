/** Runs the built `auditq` CLI (`dist/`, so `npm run build` first) as a user would, on one data dir. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * The environment for a CLI a test spawns: this process's without any AUDITQ_* setting, plus
 * `settings`. A developer's shell may export AUDITQ_REDIS_URL or AUDITQ_DATABASE_URL for their
 * own service; inherited, `auditq serve` would run in queue mode on that Redis under the shared
 * default prefix (its worker draining their queue into the test's store) and `auditq dlq` would
 * list their dead letters. AUDITQ_TEST_* stay: they configure the tests, not the CLI.
 */
export function cliEnv(settings: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('AUDITQ_') || name.startsWith('AUDITQ_TEST_'))
  return { ...Object.fromEntries(inherited), ...settings }
}

/** `auditq --data-dir <dataDir> …args` against the embedded store, whatever the environment says. */
export function cliRunner(dataDir: string): (args: string[], input?: string) => CliResult {
  return (args, input) => {
    const result = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], {
      input,
      encoding: 'utf8',
      env: cliEnv(),
    })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }
}
