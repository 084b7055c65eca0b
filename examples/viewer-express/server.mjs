#!/usr/bin/env node
/**
 * One command: `npm start` here (or `npm run example:viewer` in the auditq repository) starts
 * auditq on the embedded store with the viewer on, records a few events for two customers, and
 * serves the example app on another origin:
 *
 *   auditq       http://127.0.0.1:3300   (AUDITQ_PORT)
 *   example app  http://localhost:3301   (PORT)  → sign in as Alice (Acme) or Gary (Globex)
 *
 * In production auditq runs as its own service (`auditq serve` with AUDITQ_VIEWER_SECRET and
 * AUDITQ_VIEWER_ORIGINS) and only app.mjs is yours.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createExampleApp } from './app.mjs'

// Installed (`npm install` here) the package is `auditq`; inside the auditq repository it is the build.
const here = dirname(fileURLToPath(import.meta.url))
const installed = await import('auditq').then(() => true, () => false)
const auditq = installed ? await import('auditq') : await import('../../dist/index.js')
const cli = installed ? join(dirname(fileURLToPath(import.meta.resolve('auditq/package.json'))), 'dist', 'cli', 'index.js') : join(here, '..', '..', 'dist', 'cli', 'index.js')

const auditqPort = Number(process.env.AUDITQ_PORT ?? 3300)
const appPort = Number(process.env.PORT ?? 3301)
const auditqUrl = `http://127.0.0.1:${auditqPort}`
const appOrigin = `http://localhost:${appPort}`
const viewerSecret = process.env.AUDITQ_VIEWER_SECRET ?? randomBytes(32).toString('base64url')
const dataDir = process.env.AUDITQ_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'auditq-viewer-example-'))

// auditq as it runs in production: `auditq serve`, configured through its environment.
const service = spawn(process.execPath, [cli, 'serve'], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    AUDITQ_PORT: String(auditqPort),
    AUDITQ_DATA_DIR: dataDir,
    AUDITQ_LOG_LEVEL: process.env.AUDITQ_LOG_LEVEL ?? 'warn',
    AUDITQ_VIEWER_SECRET: viewerSecret,
    AUDITQ_VIEWER_ORIGINS: appOrigin,
    AUDITQ_DISPLAY_TEMPLATES: process.env.AUDITQ_DISPLAY_TEMPLATES ?? JSON.stringify({ 'user.invited': '{actor_name} invited {targets.user.name} to {targets.team.name}' }),
  },
})
service.once('exit', (code) => {
  console.error(`auditq exited (${code})`)
  process.exit(1)
})
await waitForHealth(`${auditqUrl}/api/v1/monitoring/health`)
const recorded = await fetch(`${auditqUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: demoEvents() }) })
const answer = await recorded.json()
if ((answer.rejected ?? []).length > 0) console.warn('some demo events were refused:', JSON.stringify(answer.rejected))

const app = createExampleApp({ auditqUrl, viewerSecret, createViewerToken: auditq.createViewerToken })
const server = app.listen(appPort, 'localhost', () => {
  console.log(`auditq on ${auditqUrl} (embedded store in ${dataDir})`)
  console.log(`example app on ${appOrigin}: sign in and open the audit log`)
})

const stop = () => {
  server.close()
  service.removeAllListeners('exit')
  service.kill('SIGTERM')
  service.once('exit', () => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

async function waitForHealth(url) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).status < 500) return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`auditq did not answer at ${url}`)
}

function demoEvents() {
  const events = []
  for (let i = 0; i < 40; i++) {
    events.push({ tenant_id: 'acme', action: i % 3 === 0 ? 'document.updated' : 'document.viewed', actor_id: i % 2 ? 'alice' : 'bob', actor_type: 'user', resource_type: 'document', resource_id: `doc-${i}`, success: i % 7 !== 0, metadata: { title: `Quarterly plan ${i}` } })
  }
  events.push({ tenant_id: 'acme', action: 'user.invited', actor_id: 'alice', actor_name: 'Alice Adams', targets: [{ type: 'user', id: 'u-7', name: 'Carol' }, { type: 'team', id: 't-1', name: 'Finance' }] })
  for (let i = 0; i < 10; i++) events.push({ tenant_id: 'globex', action: 'invoice.paid', actor_id: 'gary', resource_type: 'invoice', resource_id: `inv-${i}` })
  return events
}
