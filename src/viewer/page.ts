import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AuditqError } from '../errors.js'

/**
 * Where `npm run build` puts the bundled web component (scripts/build-viewer.mjs): beside this
 * module in dist/, so the package serves it with no CDN and no run-time download. Tests run this
 * module from src/, where the bundle is the one `pretest`'s build wrote to dist/.
 */
const BUNDLE_CANDIDATES = [join(import.meta.dirname, 'viewer.js'), join(import.meta.dirname, '..', '..', 'dist', 'viewer', 'viewer.js')]

/** The standalone page: the component alone, its token read from the URL fragment (never sent to any server). */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Audit log</title>
<script type="module" src="viewer.js"></script>
</head>
<body>
<auditq-viewer token-from-fragment></auditq-viewer>
</body>
</html>
`

export interface ViewerAssets {
  script(): Buffer
  page(): string
  pageCsp(frameAncestors: string): string
}

export function loadViewerPage(log: { warn(object: object, message: string): void }): ViewerAssets {
  const path = BUNDLE_CANDIDATES.find((candidate) => existsSync(candidate))
  // Read once: the file is the build's output and does not change while the service runs.
  const bundle = path === undefined ? undefined : readFileSync(path)
  if (bundle === undefined) log.warn({ looked_in: BUNDLE_CANDIDATES }, 'viewer bundle not found (run npm run build); GET /viewer.js answers 404')
  return {
    script: () => {
      if (bundle === undefined) throw new AuditqError('AUDITQ_NOT_FOUND', 'the viewer bundle was not built (npm run build)')
      return bundle
    },
    page: () => PAGE,
    // The component styles itself through constructed style sheets, which style-src does not
    // govern, so the page needs no 'unsafe-inline' of any kind.
    pageCsp: (ancestors) =>
      ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", `frame-ancestors ${ancestors}`].join('; '),
  }
}
