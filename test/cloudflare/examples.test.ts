import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it, vi } from 'vitest'

// workerd start-up and queue delivery on a shared 2-core machine: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 })

const RUNNER = fileURLToPath(new URL('../../examples/cloudflare/run-local.mjs', import.meta.url))

describe('examples/cloudflare run locally with the documented command (workerd via Miniflare, config from wrangler.toml)', () => {
  it.each(['single-worker', 'split'])('%s: a token issued over HTTP is queued, consumed and queryable in token_usage and the report', async (layout) => {
    const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, ...(layout === 'split' ? ['split'] : []), '--smoke'], { timeout: 80_000 })
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!)
    expect(result.layout).toBe(layout)
    expect(result.token_usage).toEqual([expect.objectContaining({ token_id: result.issued.token_id, subject: 'user:smoke', event_type: 'generated', client_id: 'cli' })])
    expect(result.total).toBe(1)
  })
})
