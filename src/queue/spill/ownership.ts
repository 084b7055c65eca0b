/**
 * Which process owns which journal, and how a dead producer's journal changes hands.
 *
 * Layout under the base directory (`SpillJournal.open({ dir })`), shared by every producer on a host:
 *
 *   j-<id>/                    one open journal; `LOCK` names its owner (pid + process start time);
 *                              on a full disk an empty `LOCK-<pid>-<start time>` says the same
 *   j-<id>/adopted/j-<id2>/    a dead producer's journal, now owned by whoever owns j-<id>
 *   corrupt/                   damaged records moved aside by replay, kept for an operator
 *   .new-<id>/, .gone-<id>/    a journal being created / being removed (no waiting events)
 *
 * The rule:
 * 1. Every `open` creates its own `j-<id>` (never reuses one), so two processes never write to the
 *    same files and need no lock to append.
 * 2. A `j-<id>` is adoptable when its `LOCK` is gone (`close()` removes it) or names a process that
 *    no longer runs: no such pid, or a pid whose start time differs (the pid was reused — which
 *    in a container restarted with the same pid is the usual case, not the rare one).
 * 3. Adopting is one `rename` of the whole directory into the adopter's `adopted/`: atomic, so of two
 *    processes adopting at once exactly one wins; the loser gets ENOENT and moves on. Whatever
 *    the dead journal had itself adopted comes along and is lifted to the adopter's `adopted/`.
 * 4. Adopted journals are replayed, oldest first, by the adopter's `replay`, then removed. If the
 *    adopter dies too, its own `j-<id>` (with everything in `adopted/`) is adopted in turn.
 *
 * Limits: liveness is judged with the local pid table, so the base directory must be used by one
 * host and one pid namespace. Two containers sharing it, or a network share mounted on two hosts,
 * would see each other's live producers as dead and take their journals while they still append.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { mkdir, open, readdir, readFile, rename, rm, rmdir, unlink } from 'node:fs/promises'
import path from 'node:path'
import { fsyncDir, readTextIfExists, replaceFileDurably } from './durable-fs.js'

export const ADOPTED_DIR = 'adopted'
export const CORRUPT_DIR = 'corrupt'
const LOCK_FILE = 'LOCK'
const NAMED_LOCK_PREFIX = 'LOCK-'
const JOURNAL_PREFIX = 'j-'
const CREATING_PREFIX = '.new-'
const REMOVING_PREFIX = '.gone-'

interface OwnerRecord {
  pid: number
  /** Clock ticks after boot at which the process started (`/proc/<pid>/stat` field 22); null off Linux. */
  startTicks: string | null
  /** For an operator reading the file; not used to decide (see "Limits" above). */
  hostname: string
  createdAt: string
}

/** Creates and locks a fresh journal directory for this process. */
export async function createJournalDir(baseDir: string): Promise<{ name: string; dir: string }> {
  const id = `${process.pid}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
  const creating = path.join(baseDir, `${CREATING_PREFIX}${id}`)
  const name = `${JOURNAL_PREFIX}${id}`
  const dir = path.join(baseDir, name)
  await mkdir(creating)
  const owner: OwnerRecord = {
    pid: process.pid,
    startTicks: await processStartTicks(process.pid),
    hostname: hostname(),
    createdAt: new Date().toISOString(),
  }
  try {
    await replaceFileDurably(path.join(creating, LOCK_FILE), JSON.stringify(owner))
  } catch (error) {
    if (!isOutOfSpace(error)) throw error
    // A full disk: the owner goes into the name of an empty file, which needs no data block, so a
    // restart can still open a journal and adopt (and so replay) what the dead producer left.
    await rm(path.join(creating, `${LOCK_FILE}.tmp`), { force: true })
    await (await open(path.join(creating, lockName(owner)), 'wx')).close()
    await fsyncDir(creating)
  }
  // Renamed into place only once locked: a visible j-<id> without LOCK always means "released".
  await rename(creating, dir)
  await fsyncDir(baseDir)
  return { name, dir }
}

/** Gives the journal up for adoption by any process, this one included. */
export async function releaseJournalDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name === LOCK_FILE || name.startsWith(NAMED_LOCK_PREFIX)) await unlink(path.join(dir, name))
  }
  await fsyncDir(dir)
}

/**
 * Removes a journal with nothing waiting. Renamed away first, still locked, so no adopter can take
 * a half-deleted directory; a crash mid-way leaves a `.gone-` directory the next adopter clears.
 */
export async function removeJournalDir(baseDir: string, name: string): Promise<void> {
  const gone = path.join(baseDir, `${REMOVING_PREFIX}${name.slice(JOURNAL_PREFIX.length)}`)
  await rename(path.join(baseDir, name), gone)
  await rm(gone, { recursive: true, force: true })
  await fsyncDir(baseDir)
}

/**
 * Moves every dead or released journal in `baseDir` under `ownDir/adopted/` and returns the names of
 * all journals now there (including ones adopted earlier), flattened to one level.
 */
export async function adoptDeadJournals(baseDir: string, ownDir: string): Promise<string[]> {
  const adoptedRoot = path.join(ownDir, ADOPTED_DIR)
  let tookAny = false
  for (const entry of await readdir(baseDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const from = path.join(baseDir, entry.name)
    if (entry.name.startsWith(CREATING_PREFIX) || entry.name.startsWith(REMOVING_PREFIX)) {
      await clearAbandoned(from)
      continue
    }
    if (!entry.name.startsWith(JOURNAL_PREFIX) || from === ownDir) continue
    const owner = await readOwner(from)
    if (owner && (await isAlive(owner))) continue
    await mkdir(adoptedRoot, { recursive: true })
    try {
      await rename(from, path.join(adoptedRoot, entry.name))
      tookAny = true
    } catch (error) {
      // Another process adopted it between our readdir and our rename: it is theirs now.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  if (tookAny) {
    await fsyncDir(baseDir)
    await fsyncDir(adoptedRoot)
  }
  return flattenAdopted(adoptedRoot)
}

/** Lifts journals a dead journal had itself adopted up to `adoptedRoot`, so replay sees one level. */
async function flattenAdopted(adoptedRoot: string): Promise<string[]> {
  const names = await listDirs(adoptedRoot)
  for (let i = 0; i < names.length; i++) {
    const nestedRoot = path.join(adoptedRoot, names[i]!, ADOPTED_DIR)
    const nested = await listDirs(nestedRoot)
    if (nested.length === 0) continue
    for (const name of nested) await rename(path.join(nestedRoot, name), path.join(adoptedRoot, name))
    await fsyncDir(adoptedRoot)
    await rmdir(nestedRoot)
    names.push(...nested) // they may have nested journals of their own
  }
  return names
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

/** A `.new-`/`.gone-` directory holds no waiting events; it is only removed once its creator is dead. */
async function clearAbandoned(dir: string): Promise<void> {
  const owner = await readOwner(dir)
  if (owner && (await isAlive(owner))) return
  const pid = Number(path.basename(dir).split('-')[1])
  if (!owner && Number.isSafeInteger(pid) && pid > 0 && pidExists(pid)) return
  await rm(dir, { recursive: true, force: true })
}

/** The journal's owner, or undefined when it was released (or its LOCK is unreadable). */
async function readOwner(dir: string): Promise<OwnerRecord | undefined> {
  const text = await readTextIfExists(path.join(dir, LOCK_FILE))
  if (text === undefined) return readNamedLock(dir)
  try {
    const owner = JSON.parse(text) as OwnerRecord
    return Number.isSafeInteger(owner.pid) && owner.pid > 0 ? owner : undefined
  } catch {
    // LOCK is written to a temp name and renamed into place, so only disk damage makes it
    // unreadable; treated as released, because keeping the journal from every adopter forever
    // would strand its events.
    return undefined
  }
}

/** `LOCK-<pid>-<start ticks or "none">`: the owner record of a journal created on a full disk. */
function lockName(owner: OwnerRecord): string {
  return `${NAMED_LOCK_PREFIX}${owner.pid}-${owner.startTicks ?? 'none'}`
}

async function readNamedLock(dir: string): Promise<OwnerRecord | undefined> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const match = names.map((name) => /^LOCK-(\d+)-(\d+|none)$/.exec(name)).find((m) => m !== null)
  if (!match) return undefined
  const pid = Number(match[1])
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  return { pid, startTicks: match[2] === 'none' ? null : match[2]!, hostname: '', createdAt: '' }
}

function isOutOfSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

async function isAlive(owner: OwnerRecord): Promise<boolean> {
  if (!pidExists(owner.pid)) return false
  if (owner.startTicks === null) return true
  const ticks = await processStartTicks(owner.pid)
  return ticks === null || ticks === owner.startTicks
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function processStartTicks(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (the command) is in parentheses and may contain spaces; count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null // no procfs (macOS) or the process just ended: pid liveness alone decides
  }
}
