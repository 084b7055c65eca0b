/** The built `auditq` CLI, run as a user would, against a throwaway embedded store. */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseAge } from '../src/retention/cleanup.js'
import { CLI, cliEnv, cliRunner } from './support/cli.js'

const dataDir = mkdtempSync(join(tmpdir(), 'auditq-cli-'))
const auditq = cliRunner(dataDir)

afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('auditq CLI', () => {
  it('migrates, sends from flags and from stdin, and queries as a table, JSON and CSV', () => {
    expect(auditq(['migrate'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/schema version \d+/) })
    const sent = auditq(['send', '--action', 'user.created', '--actor-id', 'cli-admin', '--metadata', '{"plan":"pro"}'])
    expect(sent.code).toBe(0)
    expect(sent.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/)
    const piped = auditq(['send'], '{"action":"a.one","actor_id":"cli-pipe"}\n{"userId":"cli-pipe","action":"a.two"}\n')
    expect(piped.code).toBe(0)
    expect(piped.stdout.trim().split('\n')).toHaveLength(2)

    const table = auditq(['query', '--actor-id', 'cli-pipe'])
    expect(table.code).toBe(0)
    expect(table.stdout.split('\n')[0]).toMatch(/^OCCURRED_AT\s+ACTION/)
    expect(table.stdout).toMatch(/a\.one/)
    const json = JSON.parse(auditq(['query', '--format', 'json', '--actor-id', 'cli-admin']).stdout)
    expect(json.events[0]).toMatchObject({ action: 'user.created', metadata: { plan: 'pro' } })
    const csv = auditq(['query', '--format', 'csv', '--actor-id', 'cli-pipe']).stdout.trim().split('\r\n')
    expect(csv).toHaveLength(3)
  })

  it('exports every event to a file', () => {
    const output = join(dataDir, 'export.ndjson')
    const result = auditq(['export', '--format', 'ndjson', '--output', output])
    expect(result.code).toBe(0)
    const lines = readFileSync(output, 'utf8').trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(3)
    expect(JSON.parse(lines[0]!)).toHaveProperty('action')
  })

  it('exits 2 with a clear message on bad input, naming the field', () => {
    const bad = auditq(['send', '--action', 'bad action'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/action \(pattern\)/)
    expect(auditq(['query', '--from', 'yesterday'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/from:/) })
    expect(auditq(['query', '--bogus']).code).toBe(2)
    expect(auditq(['send', '--action', 'x', '--metadata', '{oops'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--metadata/) })
  })

  it('prints help and exits 0', () => {
    const help = auditq(['--help'])
    expect(help.code).toBe(0)
    for (const command of ['serve', 'migrate', 'send', 'query', 'export']) expect(help.stdout).toContain(command)
  })

  it('query, export and report --help give the time formats and say --from is inclusive, --to exclusive', () => {
    for (const command of ['query', 'export', 'report']) {
      const help = auditq([command, '--help']).stdout.replace(/\s+/g, ' ')
      const from = help.slice(help.indexOf('--from <time>'), help.indexOf('--to <time>'))
      const to = help.slice(help.indexOf('--to <time>')).split(/ --[a-z]/)[0]!
      expect(from, command).toMatch(/inclusive/)
      expect(from, command).toMatch(/ISO 8601/)
      expect(from, command).toMatch(/2026-01-31 = UTC midnight/)
      expect(to, command).toMatch(/exclusive/)
    }
  })

  it('every --older-than example in cleanup --help is accepted by the parser and by the command', () => {
    const help = auditq(['cleanup', '--help']).stdout.replace(/\s+/g, ' ')
    const examples = /--older-than <age> [^(]*?e\.g\. ((?:\w+, )*\w+)/.exec(help)?.[1]?.split(', ') ?? []
    expect(examples.length).toBeGreaterThanOrEqual(3)
    for (const example of examples) {
      expect(parseAge(example), `parseAge(${example})`).toBeTypeOf('number')
      expect(auditq(['cleanup', '--older-than', example, '--dry-run']), example).toMatchObject({ code: 0, stdout: expect.stringMatching(/^would delete/) })
    }
  })

  it('verify --help shows no empty-list default for the repeatable --public-key', () => {
    const help = auditq(['verify', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/--public-key <file>/)
    expect(help.stdout).not.toContain('(default: [])')
  })

  it('query, export, report and verify on a data directory that does not exist say so, exit non-zero and create nothing', () => {
    const missing = join(dataDir, 'no-such-store')
    const elsewhere = cliRunner(missing)
    for (const args of [['query'], ['export'], ['report', 'daily'], ['verify']]) {
      const result = elsewhere(args)
      expect(result.code, args.join(' ')).not.toBe(0)
      expect(result.stderr, args.join(' ')).toContain(missing)
      expect(result.stderr, args.join(' ')).toMatch(/does not exist/)
      expect(result.stderr, args.join(' ')).toMatch(/auditq serve/)
      expect(result.stderr, args.join(' ')).toMatch(/--data-dir/)
      expect(existsSync(missing), args.join(' ')).toBe(false)
    }
  })

  describe('piped into a reader that stops early (`| head`)', () => {
    const bigDir = mkdtempSync(join(tmpdir(), 'auditq-cli-pipe-'))
    afterAll(() => rmSync(bigDir, { recursive: true, force: true }))

    /** Spawns the CLI, reads the first chunk of stdout, then closes the pipe as `head` does. */
    function readFirstChunk(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; firstChunk: string; stderr: string }> {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [CLI, '--data-dir', bigDir, ...args], { env: cliEnv() })
        let firstChunk = ''
        let stderr = ''
        child.stdout.once('data', (chunk: Buffer) => {
          firstChunk = chunk.toString()
          child.stdout.destroy()
        })
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
        child.on('close', (code, signal) => resolve({ code, signal, firstChunk, stderr }))
      })
    }

    it('exits 0 without a write EPIPE message', async () => {
      // Well over a pipe's 64 KiB buffer, so the CLI is still writing when the reader goes away.
      const lines = Array.from({ length: 2_000 }, (_, i) => JSON.stringify({ action: 'bulk.load', actor_id: `u${i}`, metadata: { pad: 'x'.repeat(300) } }))
      expect(cliRunner(bigDir)(['send'], lines.join('\n') + '\n').code).toBe(0)
      for (const args of [['export'], ['export', '--format', 'csv'], ['query', '--limit', '1000', '--format', 'json']]) {
        const result = await readFirstChunk(args)
        expect(result.firstChunk.length, args.join(' ')).toBeGreaterThan(0)
        expect(result.stderr, args.join(' ')).toBe('')
        expect(result, args.join(' ')).toMatchObject({ code: 0, signal: null })
      }
    }, 120_000)
  })
})
