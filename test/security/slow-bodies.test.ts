/**
 * Slow and partial request bodies over raw sockets: a body that trickles in is cut off at the
 * request timeout, and bodies in flight across all connections stay within one byte budget while
 * small requests still get through.
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { buildServer } from '../../src/http/server.js'
import { createAuditLogger } from '../../src/sdk/audit-logger.js'
import { createLogger } from '../../src/util/logger.js'
import { startApp, type TestApp } from '../support/app.js'
import { MemoryStore } from '../support/memory-store.js'

interface Upload {
  socket: net.Socket
  /** Everything the server wrote, once it closed the connection (or the wait ran out). */
  answer(waitMs: number): Promise<{ text: string; closed: boolean }>
}

/** Opens a connection, sends a POST's head and `sendBytes` of a body declared `declaredBytes` long (or chunked), and leaves it hanging. */
function partialUpload(port: number, options: { declaredBytes?: number; sendBytes: number }): Upload {
  const socket = net.connect(port, '127.0.0.1')
  let text = ''
  let closed = false
  socket.on('data', (chunk) => (text += chunk.toString('utf8')))
  socket.on('error', () => {})
  socket.on('close', () => (closed = true))
  const length = options.declaredBytes === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${options.declaredBytes}`
  const body = Buffer.alloc(options.sendBytes, 0x20)
  socket.write(`POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${length}\r\n\r\n`)
  socket.write(options.declaredBytes === undefined ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : body)
  return {
    socket,
    answer: async (waitMs) => {
      const until = Date.now() + waitMs
      while (!closed && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
      return { text, closed }
    },
  }
}

function port(t: TestApp): number {
  return (t.app.server.address() as { port: number }).port
}

describe('request timeout', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startApp('embedded', { http: { requestTimeoutMs: 1_000 } })
    await t.app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => t?.close())

  it('closes a body that trickles in (a byte every 200 ms) once the timeout passes, with 408 AUDITQ_REQUEST_TIMEOUT', async () => {
    const started = Date.now()
    const upload = partialUpload(port(t), { declaredBytes: 4_000_000, sendBytes: 100_000 })
    // Dripping keeps an idle timer from ever firing; only a deadline for the whole request does.
    const drip = setInterval(() => upload.socket.writable && upload.socket.write(' '), 200)
    try {
      const { text, closed } = await upload.answer(8_000)
      expect(closed).toBe(true)
      expect(Date.now() - started).toBeLessThan(6_000)
      expect(text).toMatch(/^HTTP\/1\.1 408 /)
      expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'AUDITQ_REQUEST_TIMEOUT', statusCode: 408 })
      expect(t.app.securityStats().requestTimeouts).toBe(1)
    } finally {
      clearInterval(drip)
      upload.socket.destroy()
    }
  }, 15_000)

  it('leaves a request that arrives in time alone', async () => {
    const response = await fetch(`http://127.0.0.1:${port(t)}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'in.time' }) })
    expect(response.status).toBe(202)
  })
})

describe('bytes of request bodies in flight', () => {
  let t: TestApp
  const MiB = 1024 * 1024
  beforeAll(async () => {
    t = await startApp('embedded', { http: { bodyLimitBytes: MiB, maxBodyBytesInFlight: 3 * MiB } })
    await t.app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => t?.close())

  it('refuses partial bodies past the budget with 503 AUDITQ_OVERLOADED and Retry-After, while a small request still succeeds', async () => {
    const uploads: Upload[] = []
    const answers: string[] = []
    try {
      // Three hanging 1 MB uploads fill the 3 MiB budget; the next two are refused at once, before their bodies are read.
      for (let i = 0; i < 5; i++) {
        const upload = partialUpload(port(t), { declaredBytes: 1_000_000, sendBytes: 10_000 })
        uploads.push(upload)
        answers.push((await upload.answer(i < 3 ? 300 : 3_000)).text)
      }
      expect(answers.slice(0, 3)).toEqual(['', '', ''])
      for (const text of answers.slice(3)) {
        expect(text).toMatch(/^HTTP\/1\.1 503 /)
        expect(text.toLowerCase()).toContain('retry-after: 1')
        expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'AUDITQ_OVERLOADED', details: { max_body_bytes_in_flight: 3 * MiB } })
      }
      // A chunked body is counted as it arrives: 200 KB does not fit in what is left.
      const chunked = partialUpload(port(t), { sendBytes: 200_000 })
      uploads.push(chunked)
      expect((await chunked.answer(3_000)).text).toMatch(/^HTTP\/1\.1 503 [\s\S]*AUDITQ_OVERLOADED/)
      // A small request fits in the room left.
      const small = await fetch(`http://127.0.0.1:${port(t)}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'small.request' }) })
      expect(small.status).toBe(202)
      expect(t.app.securityStats().overloaded).toBe(3)
    } finally {
      for (const upload of uploads) upload.socket.destroy()
    }
    // Closed uploads give their bytes back: a body of nearly 1 MB is accepted again.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const events = Array.from({ length: 400 }, (_, i) => ({ action: 'big.request', description: `${i} ${'x'.repeat(2_000)}` }))
    const big = await fetch(`http://127.0.0.1:${port(t)}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) })
    expect(big.status).toBe(202)
  }, 30_000)

  it('refuses a budget smaller than one body at the limit, naming both settings', async () => {
    const logger = createLogger({ level: 'silent' })
    const audit = await createAuditLogger({ store: new MemoryStore(), logger })
    const config = loadConfig({ http: { bodyLimitBytes: 2 * MiB, maxBodyBytesInFlight: MiB } })
    await expect(buildServer({ config, audit, logger })).rejects.toMatchObject({ code: 'AUDITQ_CONFIG', message: expect.stringMatching(/http\.maxBodyBytesInFlight .* below http\.bodyLimitBytes/) })
  })
})
