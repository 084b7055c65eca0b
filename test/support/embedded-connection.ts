/**
 * A raw connection to an embedded store's file through the same driver the store under test uses
 * (AUDITQ_EMBEDDED_DRIVER, else auto), for tests that tamper, block or inspect beside the store:
 * under Node.js 22 with node:sqlite forced, better-sqlite3's binding (built for the project's
 * Node.js 20) would not load at all.
 */
import { embeddedDriverFromEnv } from '../../src/config.js'
import { resolveEmbeddedDriver, type OpenOptions, type SqliteDatabase } from '../../src/store/embedded/sqlite-driver.js'

export function openEmbeddedConnection(file: string, options: OpenOptions = {}): SqliteDatabase {
  return resolveEmbeddedDriver(embeddedDriverFromEnv(process.env)).open(file, options)
}
