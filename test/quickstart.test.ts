/**
 * The README's quick start, as a newcomer runs it: the built CLI serving the embedded store on a
 * real socket, a POST and a GET over HTTP, then a clean SIGTERM shutdown.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, cliEnv } from './support/cli.js'


async function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${output}`)), 20_000)
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/[\d.:]+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`service exited with ${code}:\n${output}`)))
  })
}

describe('quick start: auditq serve on the embedded store', () => {
  let dataDir: string
  let child: ChildProcess
  let base: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'auditq-quickstart-'))
    child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
      env: cliEnv({ AUDITQ_DATA_DIR: dataDir }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    base = await waitForListening(child)
  })

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('posts an event with curl-style JSON and reads it back', async () => {
    const posted = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"action":"login","actor_id":"u1"}',
    })
    expect(posted.status).toBe(202)
    const { ids } = (await posted.json()) as { ids: string[] }
    const listed = (await (await fetch(`${base}/v1/events?actor_id=u1`)).json()) as { events: { id: string; action: string }[] }
    expect(listed.events.map((e) => e.id)).toEqual(ids)
    expect(listed.events[0]!.action).toBe('login')
  })

  it('answers a bad event with 400 naming the field', async () => {
    const response = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"actor_id":"u1"}',
    })
    expect(response.status).toBe(400)
    expect(await response.text()).toMatch(/action/)
  })

  it('answers requests the HTTP parser refuses with a catalog body', async () => {
    const { port } = new URL(base)
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`))
      let data = ''
      socket.on('data', (chunk) => (data += chunk.toString()))
      socket.on('close', () => resolve(data))
      socket.on('error', reject)
    })
    expect(reply).toMatch(/^HTTP\/1\.1 431 /)
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toMatchObject({ statusCode: 431, code: 'AUDITQ_HEADERS_TOO_LARGE' })
  })

  it('serves the dashboard from the built package: the page to a browser, its scripts, the JSON index to curl', async () => {
    const page = await fetch(`${base}/`, { headers: { accept: 'text/html' } })
    expect(page.status).toBe(200)
    const html = await page.text()
    const assets = [...html.matchAll(/\/dashboard\/assets\/[\w.-]+/g)].map((m) => m[0])
    expect(assets).toContain('/dashboard/assets/app.js')
    for (const asset of [...assets, '/dashboard/assets/events-table.js']) expect((await fetch(`${base}${asset}`)).status, asset).toBe(200)
    expect(await (await fetch(`${base}/`)).json()).toMatchObject({ name: 'auditq' })
  })

  it('shuts down cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
