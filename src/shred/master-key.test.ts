import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadMasterKey } from './master-key.js'

const hex = 'ab'.repeat(32)

describe('master key', () => {
  it('reads 64 hex digits or base64 of 32 bytes, from the value or a file', () => {
    expect(loadMasterKey({ masterKey: hex })).toEqual(Buffer.from(hex, 'hex'))
    expect(loadMasterKey({ masterKey: Buffer.from(hex, 'hex').toString('base64') })).toEqual(Buffer.from(hex, 'hex'))
    const dir = mkdtempSync(path.join(tmpdir(), 'auditq-mk-'))
    try {
      writeFileSync(path.join(dir, 'key'), `${Buffer.from(hex, 'hex').toString('base64url')}\n`)
      expect(loadMasterKey({ masterKeyFile: path.join(dir, 'key') })).toEqual(Buffer.from(hex, 'hex'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a missing, short, unreadable or doubly set key with AUDITQ_MASTER_KEY naming the setting', () => {
    const refusal = (source: Parameters<typeof loadMasterKey>[0]) => {
      try {
        loadMasterKey(source)
      } catch (error) {
        return error as { code: string; message: string }
      }
      throw new Error('accepted')
    }
    expect(refusal({})).toMatchObject({ code: 'AUDITQ_MASTER_KEY', message: expect.stringContaining('AUDITQ_SHRED_MASTER_KEY') })
    expect(refusal({ masterKey: 'ab'.repeat(16) })).toMatchObject({ code: 'AUDITQ_MASTER_KEY', message: expect.stringContaining('AUDITQ_SHRED_MASTER_KEY: must be 32 bytes') })
    expect(refusal({ masterKeyFile: '/nonexistent/key' })).toMatchObject({ code: 'AUDITQ_MASTER_KEY', message: expect.stringContaining('AUDITQ_SHRED_MASTER_KEY_FILE') })
    expect(refusal({ masterKey: hex, masterKeyFile: '/x' })).toMatchObject({ code: 'AUDITQ_MASTER_KEY' })
  })
})
