/**
 * `auditq keys` and `auditq serve` as an operator runs them (the built CLI, real processes, real
 * sockets): open on loopback with a loud log line, refusing a public bind without keys, closing
 * once a key exists, and never logging a key.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI, cliEnv } from '../support/cli.js'

const dataDir = mkdtempSync(join(tmpdir(), 'auditq-keys-'))
const ENV = cliEnv({ AUDITQ_DATA_DIR: dataDir, AUDITQ_KEY_CACHE_TTL_MS: '300', AUDITQ_LOG_LEVEL: 'info' })
const children: ChildProcess[] = []

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

function auditq(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: ENV })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

interface Service {
  base: string
  log: () => string
  stop: () => Promise<number | null>
}

function serve(args: string[]): Promise<Service> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${output}`)), 20_000)
    child.stderr!.on('data', () => {
      const match = /listening on (http:\/\/[\d.:[\]a-f]+)/.exec(output)
      if (!match) return
      clearTimeout(timer)
      resolve({
        base: match[1]!.replace('0.0.0.0', '127.0.0.1'),
        log: () => output,
        stop: () =>
          new Promise((done) => {
            child.once('exit', (code) => done(code))
            child.kill('SIGTERM')
          }),
      })
    })
    child.once('exit', (code) => reject(new Error(`service exited with ${code}:\n${output}`)))
  })
}

describe('auditq keys and serve', () => {
  let adminKey = ''

  it('refuses to listen on a non-loopback address while no key exists', () => {
    expect(auditq(['keys', 'list']).stdout).toMatch(/no keys/)
    const refused = auditq(['serve', '--host', '0.0.0.0', '--port', '0'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 with no API keys.*--insecure \[AUDITQ_CONFIG\]/)
  })

  it('runs open on loopback (and says so loudly), then requires keys once one is created', async () => {
    const service = await serve([])
    expect(service.log()).toMatch(/OPEN MODE: no API keys exist/)
    expect((await fetch(`${service.base}/v1/events`)).status).toBe(200)
    const created = auditq(['keys', 'create', '--tenant', 'acme', '--scopes', 'ingest,read,admin', '--name', 'ops'])
    expect(created.code).toBe(0)
    adminKey = created.stdout.trim()
    expect(adminKey).toMatch(/^aq_[0-9a-f]{16}_[\w-]{43}$/)
    expect(created.stderr).toMatch(/cannot be shown again/)
    // Closes within security.keyCacheTtlMs (300 ms here, 10 s by default).
    let status = 200
    for (let attempt = 0; attempt < 100 && status === 200; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      status = (await fetch(`${service.base}/v1/events`)).status
    }
    expect(status).toBe(401)
    expect((await fetch(`${service.base}/v1/events`, { headers: { authorization: `Bearer ${adminKey}` } })).status).toBe(200)
    expect(await service.stop()).toBe(0)
    expect(service.log()).toMatch(/API keys exist now/)
    expect(service.log()).not.toContain(adminKey.slice(20))
  })

  it('serves keyed on any address once keys exist; the key never reaches the log', async () => {
    const service = await serve(['--host', '0.0.0.0'])
    expect(service.log()).not.toMatch(/OPEN MODE/)
    const auth = { authorization: `Bearer ${adminKey}` }
    const posted = await fetch(`${service.base}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'login', metadata: { password: 'hunter2' } }) })
    expect(posted.status).toBe(202)
    const listed = (await (await fetch(`${service.base}/v1/events`, { headers: auth })).json()) as { events: { tenant_id: string; metadata: unknown }[] }
    expect(listed.events[0]).toMatchObject({ tenant_id: 'acme', metadata: { password: '[REDACTED]' } })
    await fetch(`${service.base}/v1/events?api_key=${adminKey}`)
    await fetch(`${service.base}/v1/events`, { headers: { authorization: `Bearer ${adminKey}x` } })
    const stack = await fetch(`${service.base}/v1/events/not-a-uuid`, { headers: auth })
    expect(await stack.text()).not.toMatch(/\bat .*\.js:\d+/)
    expect(await service.stop()).toBe(0)
    expect(service.log()).toMatch(/"url":"\/v1\/events\?api_key=aq_[0-9a-f]{16}_\[REDACTED\]"/)
    expect(service.log()).not.toContain(adminKey.slice(20))
    expect(service.log()).not.toContain('hunter2')
  })

  it('lists keys without secrets and revokes them', () => {
    const listed = auditq(['keys', 'list'])
    expect(listed.stdout).toMatch(/acme\s+ingest,read,admin\s+ops/)
    expect(listed.stdout).not.toContain(adminKey.slice(20))
    const id = adminKey.split('_')[1]!
    expect(auditq(['keys', 'revoke', id]).code).toBe(0)
    expect(auditq(['keys', 'revoke', id])).toMatchObject({ code: 1, stderr: expect.stringMatching(/no active key/) })
    expect(JSON.parse(auditq(['keys', 'list', '--json']).stdout)[0].revoked_at).toEqual(expect.any(String))
    expect(auditq(['keys', 'create', '--tenant', 'acme', '--scopes', 'write'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--scopes/) })
    expect(auditq(['keys', 'create', '--tenant', 'bad tenant', '--scopes', 'read'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--tenant/) })
  })

  it('--insecure lets a service with no active key listen publicly, open and loud', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'auditq-insecure-'))
    try {
      const child = spawn(process.execPath, [CLI, 'serve', '--host', '0.0.0.0', '--port', '0', '--insecure'], { env: { ...ENV, AUDITQ_DATA_DIR: otherDir }, stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(child)
      let output = ''
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
      for (let i = 0; i < 200 && !/listening on/.test(output); i++) await new Promise((resolve) => setTimeout(resolve, 100))
      expect(output).toMatch(/OPEN MODE/)
      expect(output).toMatch(/"insecure":true/)
      child.kill('SIGTERM')
    } finally {
      rmSync(otherDir, { recursive: true, force: true })
    }
  })
})
