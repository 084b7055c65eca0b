/**
 * The archive sink writes real segments from real stored events, and `verifyArchive` checks them
 * offline: intact as written, and every kind of damage named with the exact segment — removed,
 * altered, truncated, moved, an edited or re-signed manifest, an event that does not chain.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSigningKeyPem, parseSigningKey } from '../../../integrity/checkpoint.js'
import { freshStore, type TestStore } from '../../../../test/support/app.js'
import { storedEvent } from '../../../../test/support/events.js'
import type { FeedEvent } from '../../sink.js'
import { ArchiveSink } from './archive-sink.js'
import { MANIFEST_FILE } from './manifest.js'
import { cliRunner } from '../../../../test/support/cli.js'
import { verifyArchive } from './verify-archive.js'

const pem = generateSigningKeyPem()
const key = parseSigningKey(pem.privateKeyPem)
const signal = new AbortController().signal
const root = mkdtempSync(join(tmpdir(), 'auditq-archive-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('archive sink and offline verification', () => {
  let opened: TestStore
  let feed: FeedEvent[]
  const written = join(root, 'written')

  beforeAll(async () => {
    opened = await freshStore('embedded')
    await opened.store.insertBatch(Array.from({ length: 40 }, (_, i) => storedEvent({ tenant_id: i % 4 === 0 ? 'globex' : 'acme', action: `doc.v${i}` })))
    feed = []
    await opened.store.integrity!.snapshot(async (snapshot) => {
      for (const tenant of await snapshot.tenants()) for await (const row of snapshot.rows(tenant)) feed.push({ event: row.event, seq: row.seq, hash: row.hash, cursor: `${tenant}:${row.seq}` })
    })
    feed.sort((a, b) => a.event.id.localeCompare(b.event.id)) // the order they were stored in
    const sink = new ArchiveSink({ dir: written, signingKey: key, rotateBytes: 1 })
    for (let i = 0; i < feed.length; i += 5) await sink.deliver(feed.slice(i, i + 5), { signal })
    await sink.close()
  })
  afterAll(() => opened.dispose())

  const copy = (name: string) => {
    const dir = join(root, name)
    cpSync(written, dir, { recursive: true })
    return dir
  }
  const segments = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.ndjson.gz')).sort()
  const verify = (dir: string) => verifyArchive(dir, key.publicKey)

  it('verifies what it wrote: every event, in seq order per tenant, chained across segments', async () => {
    const verdict = await verify(written)
    expect(verdict).toMatchObject({ intact: true, events: 40, problems: [] })
    expect(verdict.segments).toBeGreaterThan(4)
    expect(verdict.tenants).toEqual([
      { tenant_id: 'acme', first_seq: 1, last_seq: 30 },
      { tenant_id: 'globex', first_seq: 1, last_seq: 10 },
    ])
  })

  it('continues after a restart, writes a redelivered batch once, and says how far each tenant is archived', async () => {
    const dir = copy('restart')
    const sink = new ArchiveSink({ dir, signingKey: key, rotateBytes: 1_000_000 })
    expect(await sink.confirmedThrough('acme')).toBe(30)
    expect(await sink.confirmedThrough('nobody')).toBeNull()
    await sink.deliver(feed.slice(30), { signal }) // already archived: nothing written
    expect((await verify(dir)).events).toBe(40)
    // Unconfirmed bytes after the last listed ones (a crash before the manifest was replaced) are cut off.
    const last = segments(dir).at(-1)!
    writeFileSync(join(dir, last), Buffer.concat([readFileSync(join(dir, last)), Buffer.from('torn write')]))
    const next = await opened.store.insertBatch([storedEvent({ tenant_id: 'globex' })])
    expect(next.inserted).toBe(1)
    const row = await opened.store.integrity!.snapshot(async (s) => {
      for await (const r of s.rows('globex', { fromSeq: 11 })) return r
      return undefined
    })
    const restarted = new ArchiveSink({ dir, signingKey: key, rotateBytes: 1_000_000 })
    await restarted.deliver([{ event: row!.event, seq: row!.seq, hash: row!.hash, cursor: 'globex:11' }], { signal })
    expect(await verify(dir)).toMatchObject({ intact: true, events: 41 })
    expect(await restarted.confirmedThrough('globex')).toBe(11)
  })

  it('names a removed segment', async () => {
    const dir = copy('removed')
    const victim = segments(dir)[2]!
    unlinkSync(join(dir, victim))
    expect((await verify(dir)).problems).toEqual([expect.objectContaining({ kind: 'removed', segment: victim })])
  })

  it('names an altered segment', async () => {
    const dir = copy('altered')
    const victim = segments(dir)[3]!
    const bytes = readFileSync(join(dir, victim))
    bytes[20] = bytes[20]! ^ 0xff
    writeFileSync(join(dir, victim), bytes)
    expect((await verify(dir)).problems).toEqual([expect.objectContaining({ kind: 'altered', segment: victim })])
  })

  it('names a truncated segment', async () => {
    const dir = copy('truncated')
    const victim = segments(dir)[1]!
    truncateSync(join(dir, victim), 10)
    expect((await verify(dir)).problems).toEqual([expect.objectContaining({ kind: 'truncated', segment: victim })])
  })

  it('names both segments of a swapped pair', async () => {
    const dir = copy('reordered')
    const [a, b] = [segments(dir)[1]!, segments(dir)[4]!]
    renameSync(join(dir, a), join(dir, 'swap'))
    renameSync(join(dir, b), join(dir, a))
    renameSync(join(dir, 'swap'), join(dir, b))
    expect((await verify(dir)).problems).toEqual([expect.objectContaining({ kind: 'reordered', segment: a }), expect.objectContaining({ kind: 'reordered', segment: b })])
  })

  it('names the manifest entry that was edited, reordered or dropped, and refuses another key', async () => {
    const manifest = (dir: string) => readFileSync(join(dir, MANIFEST_FILE), 'utf8').split('\n')
    const edited = copy('edited')
    const lines = manifest(edited)
    const second = JSON.parse(lines[1]!) as { file: string }
    lines[1] = lines[1]!.replace(/"last_seq":(\d+)/, (_, seq: string) => `"last_seq":${Number(seq) - 1}`)
    writeFileSync(join(edited, MANIFEST_FILE), lines.join('\n'))
    expect((await verify(edited)).problems[0]).toMatchObject({ kind: 'manifest', segment: second.file, detail: expect.stringMatching(/entry 2 was edited/) })

    const swapped = copy('swapped-lines')
    const order = manifest(swapped)
    ;[order[2], order[3]] = [order[3]!, order[2]!]
    writeFileSync(join(swapped, MANIFEST_FILE), order.join('\n'))
    const third = JSON.parse(order[2]!) as { file: string }
    expect((await verify(swapped)).problems[0]).toMatchObject({ kind: 'manifest', segment: third.file, detail: expect.stringMatching(/out of place/) })

    const dropped = copy('dropped-line')
    const fewer = manifest(dropped)
    const gone = JSON.parse(fewer.at(-3)!) as { file: string }
    fewer.splice(-3, 1) // the last entry (before the signature line and the final newline)
    writeFileSync(join(dropped, MANIFEST_FILE), fewer.join('\n'))
    const problems = (await verify(dropped)).problems
    expect(problems[0]).toMatchObject({ kind: 'manifest', segment: null, detail: expect.stringMatching(/signature covers/) })
    expect(problems).toContainEqual(expect.objectContaining({ kind: 'unlisted', segment: gone.file }))

    const other = parseSigningKey(generateSigningKeyPem().privateKeyPem)
    expect((await verifyArchive(written, other.publicKey)).problems).toEqual([expect.objectContaining({ kind: 'manifest', detail: expect.stringMatching(/does not verify/) })])
  })

  it('auditq verify --archive checks a copy offline: exit 0 intact, 1 naming the damaged segment', async () => {
    const dir = copy('cli')
    const publicKey = join(root, 'public.pem')
    writeFileSync(publicKey, pem.publicKeyPem)
    const auditq = cliRunner(join(root, 'no-store-here'))
    const intact = auditq(['verify', '--archive', dir, '--public-key', publicKey])
    expect(intact.code, intact.stderr).toBe(0)
    expect(intact.stdout).toMatch(/archive: intact .* 40 events/)
    const victim = segments(dir)[2]!
    unlinkSync(join(dir, victim))
    const damaged = auditq(['verify', '--archive', dir, '--public-key', publicKey])
    expect(damaged.code).toBe(1)
    expect(damaged.stdout).toContain(`removed: ${victim}`)
    expect(auditq(['verify', '--archive', dir]).code).toBe(2)
  }, 60_000)

  it('names the segment holding an event that does not chain from the one before it', async () => {
    const dir = join(root, 'forged-event')
    const sink = new ArchiveSink({ dir, signingKey: key, rotateBytes: 1 })
    const acme = feed.filter((item) => item.event.tenant_id === 'acme').slice(0, 10)
    const forged = acme.map((item, i) => (i === 7 ? { ...item, event: { ...item.event, description: 'rewritten' } } : item))
    await sink.deliver(forged.slice(0, 5), { signal })
    await sink.deliver(forged.slice(5), { signal })
    const verdict = await verify(dir)
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'chain', segment: segments(dir)[1], detail: expect.stringMatching(/seq 8 does not hash from seq 7/) })])
  })
})
