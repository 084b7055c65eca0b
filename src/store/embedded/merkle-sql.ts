/**
 * Migration 40 for the embedded store: the Merkle tree's tiles and the size they cover per tenant,
 * and the tree size and root each checkpoint signs (see PostgreSQL's merkle-sql.ts). Events keep
 * their seq in their row here, so no positions index is needed. Tiles only ever grow.
 */
export const MERKLE_TREE_MIGRATION: readonly string[] = [
  'ALTER TABLE audit_checkpoints ADD COLUMN tree_size INTEGER',
  'ALTER TABLE audit_checkpoints ADD COLUMN tree_root TEXT',
  `CREATE TABLE audit_merkle_tiles (
    tenant_id TEXT    NOT NULL,
    level     INTEGER NOT NULL,
    idx       INTEGER NOT NULL,
    hashes    BLOB    NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) BETWEEN 32 AND 512),
    PRIMARY KEY (tenant_id, level, idx)
  ) STRICT`,
  `CREATE TABLE audit_merkle_trees (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    size      INTEGER NOT NULL CHECK (size >= 0)
  ) STRICT`,
  `CREATE TRIGGER audit_merkle_tiles_grow_only BEFORE UPDATE ON audit_merkle_tiles
    WHEN length(NEW.hashes) < length(OLD.hashes) OR substr(NEW.hashes, 1, length(OLD.hashes)) <> OLD.hashes
      OR NEW.tenant_id <> OLD.tenant_id OR NEW.level <> OLD.level OR NEW.idx <> OLD.idx
    BEGIN SELECT RAISE(ABORT, 'auditq: a Merkle tile may only grow'); END`,
  `CREATE TRIGGER audit_merkle_tiles_append_only BEFORE DELETE ON audit_merkle_tiles
    BEGIN SELECT RAISE(ABORT, 'auditq: Merkle tiles are append-only'); END`,
]
