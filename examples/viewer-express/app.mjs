/**
 * The part a team copies: an Express app whose (fake) login knows which customer a user belongs
 * to, and whose "Audit log" page mints a short-lived viewer token for that customer's tenant and
 * embeds <auditq-viewer>. The token is minted locally with the SDK (the backend holds the signing
 * secret), so showing the page costs no round trip to auditq.
 */
import express from 'express'
import { randomBytes } from 'node:crypto'

/** Stand-ins for your users and the customer (tenant) each belongs to. */
export const USERS = {
  alice: { name: 'Alice Adams', tenant: 'acme', customer: 'Acme Corp' },
  gary: { name: 'Gary Green', tenant: 'globex', customer: 'Globex Inc' },
}

/**
 * @param {object} options
 * @param {string} options.auditqUrl  where the browser reaches auditq (serves /viewer.js and the viewer's API)
 * @param {string} options.viewerSecret  the service's AUDITQ_VIEWER_SECRET
 * @param {(options: object) => Promise<{token: string, expires_at: string}>} options.createViewerToken  from the auditq SDK
 */
export function createExampleApp({ auditqUrl, viewerSecret, createViewerToken }) {
  const app = express()
  const sessions = new Map()
  app.use(express.urlencoded({ extended: false }))

  const userOf = (request) => {
    const sid = /(?:^|;\s*)sid=([a-f0-9]{32})/.exec(request.headers.cookie ?? '')?.[1]
    return sid ? sessions.get(sid) : undefined
  }

  app.get('/', (request, response) => {
    const user = userOf(request)
    if (user) return response.redirect('/audit-log')
    const options = Object.entries(USERS)
      .map(([id, u]) => `<option value="${escapeHtml(id)}">${escapeHtml(u.name)} (${escapeHtml(u.customer)})</option>`)
      .join('')
    response.type('html').send(page('Sign in', `<form method="post" action="/login"><label>User <select name="user">${options}</select></label> <button>Sign in</button></form>`))
  })

  app.post('/login', (request, response) => {
    const user = USERS[request.body?.user]
    if (!user || !Object.hasOwn(USERS, request.body.user)) return response.status(400).send('unknown user')
    const sid = randomBytes(16).toString('hex')
    sessions.set(sid, user)
    response.setHeader('set-cookie', `sid=${sid}; HttpOnly; SameSite=Lax; Path=/`)
    response.redirect('/audit-log')
  })

  app.post('/logout', (request, response) => {
    const sid = /(?:^|;\s*)sid=([a-f0-9]{32})/.exec(request.headers.cookie ?? '')?.[1]
    if (sid) sessions.delete(sid)
    response.setHeader('set-cookie', 'sid=; Max-Age=0; Path=/')
    response.redirect('/')
  })

  app.get('/audit-log', async (request, response, next) => {
    try {
      const user = userOf(request)
      if (!user) return response.redirect('/')
      // One tenant, read and export, 15 minutes: the page is reloaded long before that matters.
      const { token } = await createViewerToken({ secret: viewerSecret, tenant_id: user.tenant, permissions: ['read', 'export'], ttl_seconds: 900 })
      const base = auditqUrl.endsWith('/') ? auditqUrl : `${auditqUrl}/`
      response.type('html').send(
        page(
          `Audit log — ${user.customer}`,
          `<form method="post" action="/logout"><p>Signed in as ${escapeHtml(user.name)} <button>Sign out</button></p></form>
<script type="module" src="${escapeHtml(base)}viewer.js"></script>
<auditq-viewer base-url="${escapeHtml(base)}" token="${escapeHtml(token)}"></auditq-viewer>`,
        ),
      )
    } catch (error) {
      next(error)
    }
  })

  return app
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem; max-width: 72rem"><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}
