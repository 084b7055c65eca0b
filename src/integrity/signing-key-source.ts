/** Where the signing key comes from: the PEM in config (env AUDITQ_SIGNING_KEY) or a file. */
import { readFile } from 'node:fs/promises'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import { parseSigningKey, type SigningKey } from './checkpoint.js'

export async function loadSigningKey(settings: Config['integrity']): Promise<SigningKey | undefined> {
  if (settings.signingKey) return parseSigningKey(settings.signingKey)
  if (!settings.signingKeyFile) return undefined
  let pem: string
  try {
    pem = await readFile(settings.signingKeyFile, 'utf8')
  } catch (error) {
    throw new AuditqError('AUDITQ_CONFIG', `integrity.signingKeyFile: cannot read ${settings.signingKeyFile} (${(error as Error).message})`)
  }
  return parseSigningKey(pem)
}
