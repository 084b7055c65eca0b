/** `auditq verify --archive DIR --public-key FILE`: the offline check of an archive directory, with no database. */
import type { KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { AuditqError } from '../errors.js'
import { parseVerifyingKey } from '../integrity/checkpoint.js'
import { verifyArchive, type ArchiveVerdict } from '../stream/sinks/archive/verify-archive.js'

/**
 * Verifies with each key given (keys rotated out included) and reports the first verdict whose
 * manifest signature verifies, else the first key's. Exit: 0 intact, 1 damaged, 2 bad usage.
 */
export async function runArchiveVerify(dir: string, keyFiles: readonly string[], options: { json: boolean }): Promise<void> {
  if (keyFiles.length === 0) throw new AuditqError('AUDITQ_BAD_REQUEST', '--archive needs --public-key FILE: the archive is checked against a key kept apart from it')
  const keys: KeyObject[] = await Promise.all(keyFiles.map(async (file) => parseVerifyingKey(await readFile(file, 'utf8'))))
  let verdict: ArchiveVerdict | undefined
  for (const key of keys) {
    const attempt = await verifyArchive(dir, key)
    verdict ??= attempt
    if (!attempt.problems.some((problem) => problem.kind === 'manifest' && /does not verify/.test(problem.detail))) {
      verdict = attempt
      break
    }
  }
  process.stdout.write(options.json ? JSON.stringify(verdict, null, 2) + '\n' : render(verdict!))
  if (!verdict!.intact) process.exitCode = 1
}

function render(verdict: ArchiveVerdict): string {
  const lines = [`archive: ${verdict.intact ? 'intact' : 'DAMAGED'} — ${verdict.segments} segments, ${verdict.events} events`]
  for (const tenant of verdict.tenants) lines.push(`  ${tenant.tenant_id}: seq ${tenant.first_seq}..${tenant.last_seq}`)
  for (const problem of verdict.problems) lines.push(`  ${problem.kind}: ${problem.segment ?? '(manifest)'}: ${problem.detail}`)
  return lines.join('\n') + '\n'
}
