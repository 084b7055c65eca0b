/**
 * SQLite result codes by number, so an error from Node's built-in `node:sqlite` (which carries the
 * extended code as the number `errcode` and `code: 'ERR_SQLITE_ERROR'`) gets the same `code`
 * better-sqlite3 gives it ('SQLITE_BUSY', 'SQLITE_IOERR_FSYNC', 'SQLITE_CONSTRAINT_CHECK', …):
 * the store classifies failures by that name, and callers may match on it.
 *
 * Extended codes are `primary | (n << 8)`; the lists below are SQLite's, in order, from n = 1
 * (https://www.sqlite.org/rescode.html). A code missing here still maps to its primary name.
 */
const PRIMARY: Record<number, string> = {
  1: 'ERROR', 2: 'INTERNAL', 3: 'PERM', 4: 'ABORT', 5: 'BUSY', 6: 'LOCKED', 7: 'NOMEM', 8: 'READONLY',
  9: 'INTERRUPT', 10: 'IOERR', 11: 'CORRUPT', 12: 'NOTFOUND', 13: 'FULL', 14: 'CANTOPEN', 15: 'PROTOCOL',
  16: 'EMPTY', 17: 'SCHEMA', 18: 'TOOBIG', 19: 'CONSTRAINT', 20: 'MISMATCH', 21: 'MISUSE', 22: 'NOLFS',
  23: 'AUTH', 24: 'FORMAT', 25: 'RANGE', 26: 'NOTADB', 27: 'NOTICE', 28: 'WARNING',
}

const EXTENDED: Record<string, readonly string[]> = {
  ERROR: ['MISSING_COLLSEQ', 'RETRY', 'SNAPSHOT'],
  IOERR: [
    'READ', 'SHORT_READ', 'WRITE', 'FSYNC', 'DIR_FSYNC', 'TRUNCATE', 'FSTAT', 'UNLOCK', 'RDLOCK', 'DELETE',
    'BLOCKED', 'NOMEM', 'ACCESS', 'CHECKRESERVEDLOCK', 'LOCK', 'CLOSE', 'DIR_CLOSE', 'SHMOPEN', 'SHMSIZE',
    'SHMLOCK', 'SHMMAP', 'SEEK', 'DELETE_NOENT', 'MMAP', 'GETTEMPPATH', 'CONVPATH', 'VNODE', 'AUTH',
    'BEGIN_ATOMIC', 'COMMIT_ATOMIC', 'ROLLBACK_ATOMIC', 'DATA', 'CORRUPTFS', 'IN_PAGE',
  ],
  LOCKED: ['SHAREDCACHE', 'VTAB'],
  BUSY: ['RECOVERY', 'SNAPSHOT', 'TIMEOUT'],
  CANTOPEN: ['NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  CORRUPT: ['VTAB', 'SEQUENCE', 'INDEX'],
  READONLY: ['RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  ABORT: ['ROLLBACK'],
  CONSTRAINT: [
    'CHECK', 'COMMITHOOK', 'FOREIGNKEY', 'FUNCTION', 'NOTNULL', 'PRIMARYKEY', 'TRIGGER', 'UNIQUE', 'VTAB',
    'ROWID', 'PINNED', 'DATATYPE',
  ],
  NOTICE: ['RECOVER_WAL', 'RECOVER_ROLLBACK', 'RBU'],
  WARNING: ['AUTOINDEX'],
  AUTH: ['USER'],
}

/** 'SQLITE_CONSTRAINT_CHECK' for 275, 'SQLITE_BUSY' for 5; undefined for a non-number. */
export function sqliteCodeName(errcode: unknown): string | undefined {
  if (typeof errcode !== 'number' || !Number.isInteger(errcode)) return undefined
  const primary = PRIMARY[errcode & 0xff]
  if (primary === undefined) return `SQLITE_UNKNOWN_${errcode}`
  const extended = errcode >> 8 === 0 ? undefined : EXTENDED[primary]?.[(errcode >> 8) - 1]
  return extended === undefined ? `SQLITE_${primary}` : `SQLITE_${primary}_${extended}`
}

/** An error from SQLite through node:sqlite, carrying better-sqlite3's `code` for the same failure. */
export class SqliteError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options: { cause: unknown },
  ) {
    super(message, options)
    this.name = 'SqliteError'
  }
}

/**
 * The same failure as better-sqlite3 would report it: SQLite errors get their result-code name;
 * a closed connection becomes the TypeError better-sqlite3 throws (the store classifies it as
 * transient). Anything else (a value that cannot be bound, …) is returned as it was.
 */
export function normalizeNodeSqliteError(error: unknown): unknown {
  if (!(error instanceof Error)) return error
  const { code, errcode } = error as Error & { code?: unknown; errcode?: unknown }
  if (code === 'ERR_SQLITE_ERROR') {
    const name = sqliteCodeName(errcode)
    if (name !== undefined) return new SqliteError(error.message, name, { cause: error })
  }
  if (code === 'ERR_INVALID_STATE' && /database is not open/.test(error.message)) {
    return new TypeError('The database connection is not open', { cause: error })
  }
  return error
}
