import { readFileSync } from 'node:fs'

/**
 * The package's own version, read from its package.json (one directory above `dist/`, or above
 * `src/` when run from source), so `auditq --version` can never drift from what was installed.
 */
export function packageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}
