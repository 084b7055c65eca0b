/**
 * Bundles TypeScript for workerd with esbuild, the way wrangler does (ESM, neutral platform,
 * `workerd`/`worker`/`browser` export conditions), and reports every Node builtin the code
 * reached instead of letting it resolve: workerd has none of them unless a Worker opts into
 * Node compatibility.
 */
import { build, type Plugin } from 'esbuild'
import { builtinModules } from 'node:module'

const NODE_BUILTIN = new RegExp(`^(node:.*|${builtinModules.map((name) => name.replace(/[/]/g, '\\/')).join('|')})(\\/.*)?$`)

export interface WorkerBundle {
  code: string
  nodeImports: string[]
}

export async function bundleForWorkerd(entryPoint: string): Promise<WorkerBundle> {
  const nodeImports: string[] = []
  const recordNodeBuiltins: Plugin = {
    name: 'record-node-builtins',
    setup(builder) {
      builder.onResolve({ filter: NODE_BUILTIN }, (args) => {
        nodeImports.push(`${args.path} (from ${args.importer})`)
        return { path: args.path, external: true }
      })
    },
  }
  const result = await build({
    entryPoints: [entryPoint],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    plugins: [recordNodeBuiltins],
    logLevel: 'silent',
  })
  return { code: result.outputFiles[0]!.text, nodeImports }
}
