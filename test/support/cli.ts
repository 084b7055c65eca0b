/** Runs the built `auditq` CLI (`dist/`, so `npm run build` first) as a user would, on one data dir. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** `auditq --data-dir <dataDir> …args` against the embedded store, whatever the environment says. */
export function cliRunner(dataDir: string): (args: string[], input?: string) => CliResult {
  return (args, input) => {
    const result = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], {
      input,
      encoding: 'utf8',
      env: { ...process.env, AUDITQ_DATABASE_URL: '' },
    })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }
}
