/** `auditq verify`, `auditq checkpoint [export]`, `auditq keygen`. */
import type { KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { AuditqError, isAuditqError } from '../errors.js'
import { parseSeq } from '../http/integrity.js'
import { generateSigningKeyPem, keyIdOf, parseSigningKey, parseVerifyingKey } from '../integrity/checkpoint.js'
import { createCheckpoints } from '../integrity/make-checkpoints.js'
import { renderVerifyReport } from '../integrity/render.js'
import { loadSigningKey } from '../integrity/signing-key-source.js'
import type { Checkpoint } from '../integrity/types.js'
import { verifyChains, type VerifyReport } from '../integrity/verify.js'
import type { IntegrityStore } from '../integrity/integrity-store.js'
import type { Store } from '../store/store.js'
import { commandConfig, openExistingStore } from './context.js'
import { runArchiveVerify } from './verify-archive.js'

async function withIntegrity<T>(command: Command, fn: (store: Store, integrity: IntegrityStore) => Promise<T>): Promise<T> {
  const config = commandConfig(command)
  const store = await openExistingStore(config)
  try {
    if (!store.integrity) throw new AuditqError('AUDITQ_CONFIG', `the ${store.kind} store keeps no hash chain`)
    return await fn(store, store.integrity)
  } finally {
    await store.close()
  }
}

/** Exit code when verify could not run at all (the chain was not judged). */
export const VERIFY_COULD_NOT_RUN = 4
const USAGE_CODES = new Set(['AUDITQ_BAD_REQUEST', 'AUDITQ_CONFIG', 'AUDITQ_VALIDATION'])

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('recompute the hash chain(s) and report the first break; exit 0 intact, 1 broken, 2 bad usage, 4 could not verify')
    .option('--tenant-id <tenant>', 'verify one tenant only')
    .option('--from <seq>', 'first sequence number (a range checks links inside it, not the head)')
    .option('--to <seq>', 'last sequence number')
    .option('--checkpoints <file>', 'also check signed checkpoints exported with `checkpoint export`')
    // No `[]` default: commander would print it as "(default: [])" after the text that already
    // says what the default is; the action reads a missing list as empty.
    .option(
      '--public-key <file>',
      'Ed25519 public key for --checkpoints; repeat it for keys rotated out (default: the configured signing key)',
      (file: string, files: string[] | undefined) => [...(files ?? []), file],
    )
    .option('--archive <dir>', 'verify an archive directory offline instead (no database): manifest signature, segments, chain; needs --public-key')
    .option('--json', 'print the report as JSON')
    .action(async (options: VerifyFlags, command: Command) => {
      if (typeof options.archive === 'string') return runArchiveVerify(options.archive, options.publicKey ?? [], { json: options.json === true })
      const config = commandConfig(command)
      const fromSeq = parseSeq(options.from, '--from')
      const toSeq = parseSeq(options.to, '--to')
      // A monitoring job must tell "the trail was tampered with" (1) from "the check did not run"
      // (store unreachable, a file unreadable: 4); bad usage stays 2 like every command.
      let report: VerifyReport
      try {
        report = await runVerify(command, config, options, fromSeq, toSeq)
      } catch (error) {
        if (isAuditqError(error) && USAGE_CODES.has(error.code)) throw error
        process.stderr.write(`auditq: could not verify: ${error instanceof Error ? error.message : String(error)}\n`)
        process.exitCode = VERIFY_COULD_NOT_RUN
        return
      }
      process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : renderVerifyReport(report))
      if (!report.intact) process.exitCode = 1
    })
}

/** What commander hands the verify action; `publicKey` collects every `--public-key` given (absent when none). */
interface VerifyFlags {
  tenantId?: string
  from?: string
  to?: string
  checkpoints?: string
  publicKey?: string[]
  archive?: string
  json?: boolean
}

async function runVerify(command: Command, config: ReturnType<typeof commandConfig>, options: VerifyFlags, fromSeq: number | undefined, toSeq: number | undefined): Promise<VerifyReport> {
  let checkpoints: { external: Checkpoint[]; publicKeys: KeyObject[] } | undefined
  if (typeof options.checkpoints === 'string') {
    // Keys given on the command line are the only trust anchors then: the configured key lives
    // beside the database, and an auditor checking it from elsewhere should not have to trust it.
    const keyFiles = options.publicKey ?? []
    const configured = keyFiles.length === 0 ? (await loadSigningKey(config.integrity))?.publicKey : undefined
    const publicKeys = configured ? [configured] : await Promise.all(keyFiles.map(async (file) => parseVerifyingKey(await readFile(file, 'utf8'))))
    if (publicKeys.length === 0) throw new AuditqError('AUDITQ_CONFIG', '--checkpoints needs --public-key or a configured signing key')
    checkpoints = { external: parseCheckpointFile(await readFile(options.checkpoints, 'utf8'), options.checkpoints), publicKeys }
  }
  return withIntegrity(command, (store, integrity) =>
    verifyChains(store.kind, integrity, {
      ...(typeof options.tenantId === 'string' ? { tenant_id: options.tenantId } : {}),
      ...(fromSeq !== undefined ? { fromSeq } : {}),
      ...(toSeq !== undefined ? { toSeq } : {}),
      ...(checkpoints ? { checkpoints } : {}),
    }),
  )
}

export function registerCheckpoint(program: Command): void {
  const checkpoint = program
    .command('checkpoint')
    .description('sign the current chain head of each tenant with the configured Ed25519 key and store it')
    .option('--tenant-id <tenant>', 'one tenant only')
    .option('--force', 'sign even heads that have not moved since the last checkpoint')
    .action(async (options: { tenantId?: string; force?: boolean }, command: Command) => {
      const config = commandConfig(command)
      const key = await loadSigningKey(config.integrity)
      if (!key) throw new AuditqError('AUDITQ_CONFIG', 'no signing key: set AUDITQ_SIGNING_KEY_FILE (see `auditq keygen`) or AUDITQ_SIGNING_KEY')
      const signed = await withIntegrity(command, (_, integrity) =>
        createCheckpoints(integrity, key, { ...(options.tenantId ? { tenant_id: options.tenantId } : {}), force: options.force === true,
          tree: config.integrity.merkleTree,
          onTreeUnavailable: (tenant, error) => process.stderr.write(`auditq: ${tenant}: signed without a Merkle tree: ${error.message}\n`),
        }),
      )
      for (const c of signed) process.stdout.write(`signed ${c.tenant_id} seq ${c.seq} hash ${c.hash}${c.tree ? ` tree root ${c.tree.root}` : ''} (key ${c.key_id})\n`)
      if (signed.length === 0) process.stdout.write('nothing to sign: no chain head moved since the last checkpoint\n')
    })
  checkpoint
    .command('export')
    .description('write every stored checkpoint as NDJSON, to be kept away from the database')
    .requiredOption('--output <file>', 'file to write (refused if it exists)')
    .option('--tenant-id <tenant>', 'one tenant only')
    .action(async (options: { output: string; tenantId?: string }, command: Command) => {
      if (existsSync(options.output)) throw new AuditqError('AUDITQ_BAD_REQUEST', `--output ${options.output} exists; refusing to overwrite`)
      const all = await withIntegrity(command, (_, integrity) => integrity.snapshot((snapshot) => snapshot.checkpoints(options.tenantId)))
      await writeFile(options.output, all.map((c) => JSON.stringify(c) + '\n').join(''), { mode: 0o600 })
      process.stdout.write(`exported ${all.length} checkpoints to ${options.output}\n`)
    })
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('generate an Ed25519 signing key for checkpoints (private key file 0600, public key beside it)')
    .requiredOption('--output <file>', 'private key file; the public key goes to <file>.pub')
    .action(async (options: { output: string }) => {
      for (const file of [options.output, `${options.output}.pub`]) {
        if (existsSync(file)) throw new AuditqError('AUDITQ_BAD_REQUEST', `${file} exists; refusing to overwrite a key`)
      }
      const { privateKeyPem, publicKeyPem } = generateSigningKeyPem()
      await writeFile(options.output, privateKeyPem, { mode: 0o600, flag: 'wx' })
      await writeFile(`${options.output}.pub`, publicKeyPem, { mode: 0o644, flag: 'wx' })
      const keyId = keyIdOf(parseSigningKey(privateKeyPem).publicKey)
      process.stdout.write(`wrote ${options.output} (private, keep it off the database host) and ${options.output}.pub\nkey id ${keyId}\n`)
      process.stdout.write(`use it with: AUDITQ_SIGNING_KEY_FILE=${options.output}\n`)
    })
}

function parseCheckpointFile(text: string, file: string): Checkpoint[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as Checkpoint
      } catch {
        throw new AuditqError('AUDITQ_BAD_REQUEST', `${file}:${i + 1}: not a JSON checkpoint line`)
      }
    })
}
