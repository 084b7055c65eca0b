/**
 * docs/http-api.md's "Generate a client" works as written: its commands generate a TypeScript
 * client from a running service's /openapi.json, its snippet type-checks (strict) against that
 * client, and run against the service it logs an event and reads it back.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../support/keyed-app.js'
import { read, ROOT } from './markdown.js'

const PROJECT = join(ROOT, 'examples/typescript-client')

/** Asynchronous: the service under test runs in this process and must keep answering meanwhile. */
const run = promisify(execFile)

/** The body of the fenced block whose info string is `<lang> <name>`. */
function block(markdown: string, lang: string, name: string): string {
  const match = new RegExp('^```' + lang + ' ' + name + '\\n([\\s\\S]*?)^```', 'm').exec(markdown)
  if (!match) throw new Error(`docs/http-api.md has no \`\`\`${lang} ${name} block`)
  return match[1]!
}

let t: KeyedApp
let dir: string

beforeAll(async () => {
  // The generator and its TypeScript 5 live in the example's own lockfile (the repository's
  // TypeScript has no compiler API for openapi-typescript to use).
  if (!existsSync(join(PROJECT, 'node_modules/.bin/openapi-typescript'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: PROJECT, stdio: 'pipe', timeout: 240_000 })
  }
  t = await startKeyedApp('embedded')
  dir = mkdtempSync(join(tmpdir(), 'auditq-client-'))
}, 300_000)
afterAll(async () => {
  await t?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('docs/http-api.md: Generate a client (TypeScript)', () => {
  it('generates a client from the live /openapi.json whose documented snippet type-checks and logs and reads back an event', async () => {
    const markdown = read('docs/http-api.md')
    const commands = block(markdown, 'sh', 'generate-typescript-client').trim().split('\n')
    const snippet = block(markdown, 'ts', 'typescript-client-example')
    const manifest = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> }

    // The install lines name exactly the example's pinned packages, so the doc cannot drift from
    // what is tested; the test uses the example's installed copy instead of installing again.
    const installs = commands.filter((line) => line.startsWith('npm install'))
    const named = installs.flatMap((line) => line.split(/\s+/).slice(2).filter((word) => !word.startsWith('-')))
    const pinned = Object.entries({ ...manifest.dependencies, ...manifest.devDependencies }).map(([name, version]) => `${name}@${version}`)
    expect(named.sort()).toEqual(pinned.sort())

    for (const file of ['package.json', 'tsconfig.json']) writeFileSync(join(dir, file), readFileSync(join(PROJECT, file)))
    symlinkSync(join(PROJECT, 'node_modules'), join(dir, 'node_modules'), 'dir')
    mkdirSync(join(dir, 'src'))
    const key = (await t.createKey('acme', ['ingest', 'read'])).key
    const env = { ...process.env, AUDITQ_URL: t.baseUrl, AUDITQ_KEY: key, PATH: `${join(dir, 'node_modules/.bin')}:${process.env.PATH}` }
    for (const command of commands.filter((line) => !line.startsWith('npm install'))) {
      await run('bash', ['-euo', 'pipefail', '-c', command], { cwd: dir, env, timeout: 120_000 })
    }
    expect(readFileSync(join(dir, 'src/auditq.d.ts'), 'utf8')).toContain('"/v1/events/{id}"')

    const file = /^\/\/ (src\/[\w-]+\.ts):/.exec(snippet)?.[1]
    expect(file, 'the snippet names its file on its first line').toBeDefined()
    writeFileSync(join(dir, file!), snippet)
    try {
      await run('tsc', ['-p', '.'], { cwd: dir, env, timeout: 120_000 })
    } catch (error) {
      throw new Error(`the documented snippet does not type-check against the generated client:\n${String((error as { stdout?: string }).stdout)}`)
    }
    const { stdout: output } = await run('node', [join('dist', file!.replace(/^src\//, '').replace(/\.ts$/, '.js'))], { cwd: dir, env, timeout: 60_000 })
    const printed = /^([0-9a-f-]{36}) invoice\.paid by u-42$/m.exec(output)
    expect(printed, output).not.toBeNull()
    // The event is really stored, under the key's tenant.
    const stored = await t.audit.store.getById(printed![1]!, { tenant_id: 'acme' })
    expect(stored).toMatchObject({ action: 'invoice.paid', tenant_id: 'acme', resource_id: 'inv-1001', metadata: { amount_cents: 1299 } })
  }, 240_000)
})
