/**
 * A Node.js 22 binary for tests that prove the embedded store on node:sqlite (the project itself
 * runs on Node.js 20, which has no node:sqlite). It comes from the npm registry's
 * `node-<platform>-<arch>` package, installed once into a cache directory shared by every checkout
 * and reused: `~/.cache/auditq-test/node-<version>`, or `$AUDITQ_TEST_CACHE_DIR/node-<version>`.
 *
 * Under CI=true, not getting it fails the test; locally the caller skips with the printed reason.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

/** 22.23 satisfies npm 12's engines (^22.22) and has node:sqlite unflagged (22.13+). */
export const NODE22_VERSION = '22.23.5'

const PACKAGE = `node-${process.platform}-${process.arch}`
const CACHE = path.join(process.env.AUDITQ_TEST_CACHE_DIR ?? path.join(homedir(), '.cache', 'auditq-test'), `node-${NODE22_VERSION}`)
const BINARY = path.join(CACHE, 'node_modules', PACKAGE, 'bin', 'node')

let pending: Promise<{ path: string } | { reason: string }> | undefined

/** The binary's path, installing it on first use; `{ reason }` when it cannot be had. */
export function node22(): Promise<{ path: string } | { reason: string }> {
  pending ??= install()
  return pending
}

/**
 * For a test file's top level: the path, or undefined after printing why the tests are skipped;
 * under CI=true it throws instead, so a CI machine without it fails rather than passing empty.
 */
export async function node22OrSkip(what: string): Promise<string | undefined> {
  const found = await node22()
  if ('path' in found) return found.path
  const message = `${what}: no Node.js ${NODE22_VERSION} binary (${found.reason})`
  if (process.env.CI === 'true') throw new Error(message)
  console.warn(`${message}; skipped`)
  return undefined
}

async function install(): Promise<{ path: string } | { reason: string }> {
  if (existsSync(BINARY)) return { path: BINARY }
  if (process.platform === 'win32') return { reason: 'the npm node-* packages are used on Linux and macOS only' }
  // Installed beside the cache and renamed into place: test files running in parallel (or two
  // checkouts) never see a half-installed directory, and the loser of a race just uses the winner's.
  await mkdir(path.dirname(CACHE), { recursive: true })
  const staging = await mkdtemp(`${CACHE}.partial-`)
  try {
    await writeFile(path.join(staging, 'package.json'), JSON.stringify({ name: 'auditq-test-node22', private: true }))
    await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', '--no-save', `${PACKAGE}@${NODE22_VERSION}`], {
      cwd: staging,
      timeout: 300_000,
    })
    await rename(staging, CACHE).catch((error: NodeJS.ErrnoException) => {
      if (!existsSync(BINARY)) throw error
    })
  } catch (error) {
    const { stderr = '', message } = error as { stderr?: string; message: string }
    return { reason: `npm install ${PACKAGE}@${NODE22_VERSION} failed: ${(stderr || message).trim().split('\n').slice(-3).join(' ')}` }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return existsSync(BINARY) ? { path: BINARY } : { reason: `${BINARY} is missing after the install` }
}
