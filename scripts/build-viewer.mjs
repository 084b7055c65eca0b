// Bundles the embeddable viewer (`<auditq-viewer>`, src/viewer/web/) into one ES module that the
// service serves at /viewer.js: no framework, no CDN, nothing fetched at run time.
// Usage: node scripts/build-viewer.mjs [outDir]   (default `dist`; the benches use `dist-bench/src`).
import { build } from 'esbuild'
import { join } from 'node:path'

const outDir = process.argv[2] ?? 'dist'

await build({
  entryPoints: ['src/viewer/web/viewer.ts'],
  outfile: join(outDir, 'viewer', 'viewer.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
})
