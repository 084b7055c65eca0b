import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { bundleForWorkerd } from '../../test/cloudflare/bundle.js'

const ENTRY = fileURLToPath(new URL('./index.ts', import.meta.url))

describe('auditq/cloudflare bundles cleanly for workerd', () => {
  it('reaches no Node builtin and no Node-only global', async () => {
    const { code, nodeImports } = await bundleForWorkerd(ENTRY)
    expect(nodeImports).toEqual([])
    // Globals workerd lacks without nodejs_compat; a stray one would fail at the first call, not at deploy.
    expect(code).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(|__dirname|setImmediate/)
  })

  it('catches a Node builtin when one sneaks in (the guard itself works)', async () => {
    const { nodeImports } = await bundleForWorkerd(fileURLToPath(new URL('../store/open-store.ts', import.meta.url)))
    expect(nodeImports.length).toBeGreaterThan(0)
  })
})
