import { readdirSync, readFileSync } from 'node:fs'

/**
 * Loads the queue's Lua scripts from `commands/` (BullMQ's layout): one file per state change,
 * named `<name>-<number of keys>.lua`, so each script reads as Lua with its own header and the key
 * count cannot drift from the TypeScript that calls it. Only `scripts.ts` uses them. The build
 * copies the folder beside the compiled loader (`scripts/copy-assets.mjs`).
 *
 * Shared conventions of the scripts:
 * - every key a script touches is passed in KEYS (Cluster requires it; `keys.ts` gives them one
 *   hash tag, so they share a slot);
 * - a stream entry holds one field, `event` (its format is `codec.ts`'s business: the canonical form
 *   with its digest and search document, or an older producer's compact JSON of the AuditEvent);
 * - a missing entry is skipped, never an error: a claim race (two workers finishing the same entry)
 *   must not fail a batch that is otherwise fine;
 * - loops call XACK/XDEL per id instead of `unpack(ARGV)`, because Lua's `unpack` fails past ~8,000
 *   values, and per-id XACK tells which entries were really pending (see ackAndDelete).
 *
 * A line `--- @include "includes/<file>"` is replaced by that file (BullMQ's syntax), so helpers
 * are written once; Redis only ever sees the expanded source.
 */

export interface LuaScript {
  /** Command name on the ioredis client, e.g. `auditqEnqueueWithCap` for `enqueueWithCap-2.lua`. */
  commandName: string
  numberOfKeys: number
  lua: string
}

const COMMANDS_DIR = new URL('./commands/', import.meta.url)
const FILE_NAME = /^([a-z][A-Za-z]*)-(\d+)\.lua$/
const INCLUDE = /^--- @include "([\w/-]+)"$/gm

let cached: ReadonlyMap<string, LuaScript> | undefined

/**
 * Every script in `commands/`, by command name. Read synchronously once, on first use, then cached:
 * a few kilobytes, read before the first Redis call, so it never blocks a hot path.
 */
export function loadLuaScripts(directory: URL = COMMANDS_DIR): ReadonlyMap<string, LuaScript> {
  if (directory === COMMANDS_DIR && cached !== undefined) return cached
  const scripts = new Map<string, LuaScript>()
  for (const file of readdirSync(directory).sort()) {
    if (!file.endsWith('.lua')) continue
    const match = FILE_NAME.exec(file)
    if (match === null) throw new Error(`Lua script ${file} must be named <name>-<number of keys>.lua`)
    const [, name, keys] = match as unknown as [string, string, string]
    const commandName = `auditq${name[0]!.toUpperCase()}${name.slice(1)}`
    scripts.set(commandName, { commandName, numberOfKeys: Number(keys), lua: expandIncludes(readFileSync(new URL(file, directory), 'utf8'), directory) })
  }
  if (directory === COMMANDS_DIR) cached = scripts
  return scripts
}

function expandIncludes(source: string, directory: URL): string {
  return source.replace(INCLUDE, (_line, path: string) => readFileSync(new URL(`${path}.lua`, directory), 'utf8'))
}
