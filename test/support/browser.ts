import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { noteSkipped } from './skip-notice.js'

/** Debian's Chromium; browsers are never downloaded. Override with AUDITQ_TEST_CHROMIUM. */
export const CHROMIUM_PATH = process.env.AUDITQ_TEST_CHROMIUM ?? '/usr/bin/chromium'

/** Where browser tests leave screenshots (gitignored; CI keeps it as an artifact). */
export const ARTIFACTS_DIR = join(import.meta.dirname, '..', '..', 'test-artifacts')

/**
 * Browser suites call this at load time (as `postgresAvailable`). Locally, a missing Chromium
 * skips the suite, and the run ends with a line saying so (skip-notice.ts); with CI=true it fails,
 * so CI can never go green by skipping the browser tests.
 */
export function chromiumAvailable(): boolean {
  const found = existsSync(CHROMIUM_PATH)
  if (!found && process.env.CI === 'true') throw new Error(`Chromium is required in CI but missing at ${CHROMIUM_PATH}`)
  if (!found) noteSkipped('chromium', `no Chromium at ${CHROMIUM_PATH}`)
  return found
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

/** `test-artifacts/<name>.png`, creating the folder. */
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  return join(ARTIFACTS_DIR, `${name}.png`)
}
