/**
 * `auditq verify-bundle FILE --public-key KEY`: checks a proof bundle offline, with no store and
 * no configuration. It runs the standalone verifier shipped as tools/verify-bundle.mjs (the file
 * an auditor can run with a plain `node`), giving it auditq's own canonical serializers, so the
 * two can never disagree on the rules and a new canonical form is known here the day it ships.
 */
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { CANONICAL_SERIALIZERS } from '../integrity/canonical.js'
import { parseVerifyingKey } from '../integrity/checkpoint.js'
import { describe, verifyBundle } from '../../tools/verify-bundle.mjs'

export function registerVerifyBundle(program: Command): void {
  program
    .command('verify-bundle')
    .description('check a proof bundle (`export --proof`) offline; exit 0 intact, 1 failed (reason named), 2 bad usage')
    .argument('<file>', 'the bundle')
    .requiredOption(
      '--public-key <file>',
      'Ed25519 public key the checkpoints were signed with; repeat it for keys rotated out',
      (file: string, files: string[] | undefined) => [...(files ?? []), file],
    )
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { publicKey: string[]; json?: boolean }) => {
      const read = async (path: string) => {
        try {
          return await readFile(path, 'utf8')
        } catch (error) {
          throw new AuditqError('AUDITQ_BAD_REQUEST', `cannot read ${path} (${(error as Error).message})`)
        }
      }
      const keys = await Promise.all(options.publicKey.map(async (keyFile) => parseVerifyingKey(await read(keyFile))))
      const result = verifyBundle(await read(file), keys, { canonicalForms: CANONICAL_SERIALIZERS })
      process.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : describe(result))
      if (!result.ok) process.exitCode = 1
    })
}
