import { readdirSync } from 'node:fs'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { redisAvailable } from '../../../test/support/redis-server.js'
import { REDIS_URL } from '../../../test/support/services.js'
import { loadLuaScripts } from './lua.js'
import { SCRIPT_NAMES } from './scripts.js'

const COMMANDS_DIR = new URL('./commands/', import.meta.url)
const hasRedis = await redisAvailable()

describe('queue Lua scripts', () => {
  it('loads every .lua file in the commands folder, with the key count from its name', () => {
    const files = readdirSync(COMMANDS_DIR).filter((file) => file.endsWith('.lua'))
    const scripts = loadLuaScripts()
    expect(scripts.size).toBe(files.length)
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) {
      const [name, keys] = file.replace(/\.lua$/, '').split('-') as [string, string]
      const script = scripts.get(`auditq${name[0]!.toUpperCase()}${name.slice(1)}`)
      expect(script, file).toBeDefined()
      expect(script!.numberOfKeys).toBe(Number(keys))
    }
  })

  it('has a .lua file for every script the queue calls, and no file nothing calls', () => {
    expect([...loadLuaScripts().keys()].sort()).toEqual([...SCRIPT_NAMES].sort())
  })

  it('replaces every include with the helper it names', () => {
    for (const script of loadLuaScripts().values()) expect(script.lua).not.toContain('@include')
    expect(loadLuaScripts().get('auditqDeadLetter')!.lua).toContain('local function field(')
  })

  it('reads the folder once and serves later calls from the cache', () => {
    expect(loadLuaScripts()).toBe(loadLuaScripts())
  })

  describe.skipIf(!hasRedis)('on a real Redis', () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true })
    afterAll(() => redis.disconnect())

    it('every script compiles', async () => {
      // SCRIPT LOAD compiles without running, so it touches no data.
      for (const script of loadLuaScripts().values()) {
        await expect(redis.script('LOAD', script.lua), script.commandName).resolves.toMatch(/^[0-9a-f]{40}$/)
      }
    })
  })
})
