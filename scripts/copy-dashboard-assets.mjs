// The dashboard's browser files are plain ES modules (no bundling step); the build copies them
// beside the compiled server so `dist/` serves exactly what tests serve from `src/`.
import { cpSync, rmSync } from 'node:fs'

rmSync('dist/dashboard/assets', { recursive: true, force: true })
cpSync('src/dashboard/assets', 'dist/dashboard/assets', { recursive: true })
