// Files tsc does not emit but the compiled code reads at run time, copied beside it so the output
// directory runs exactly what tests run from `src/`:
// - the dashboard's browser files (plain ES modules, no bundling step);
// - the queue's Lua scripts (`src/queue/redis-streams/commands/*.lua`, loaded by `lua.ts`).
// Usage: node scripts/copy-dashboard-assets.mjs [outDir]   (default `dist`; the benches use
// `dist-bench/src`, since tsconfig.bench.json compiles `src/` there).
import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const outDir = process.argv[2] ?? 'dist'
const ASSET_DIRS = ['dashboard/assets', 'queue/redis-streams/commands']

for (const dir of ASSET_DIRS) {
  rmSync(join(outDir, dir), { recursive: true, force: true })
  cpSync(join('src', dir), join(outDir, dir), { recursive: true })
}

// The benches compile `src/` to `dist-bench/src`, where `packageVersion()` reads `../package.json`.
if (outDir !== 'dist') cpSync('package.json', join(outDir, '..', 'package.json'))
