/**
 * The canonical forms by version, apart from the hashing (no node:crypto), so the stores' SQL
 * modules, which the Workers bundle shares, can name the current version.
 *
 * Each stored row records the version it was hashed under (`canonical_version`), so rows stored
 * before a new form keep verifying under their own. Changing anything in a form means a new
 * version and tag, never an edit.
 */
export const CANONICAL_TAGS = { 1: 'auditq.v1', 2: 'auditq.v2' } as const
export type CanonicalVersion = keyof typeof CANONICAL_TAGS
/** What every event stored by this version is hashed under. */
export const CURRENT_CANONICAL_VERSION: CanonicalVersion = 2
