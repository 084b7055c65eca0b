import { z } from 'zod'
import { textBoolean } from './fields.js'

/** Config sections that make the trail provable: signed checkpoints over the chain, and the completeness check. */

export const integritySchema = z
  .strictObject({
    /** PEM file of the Ed25519 signing key (`auditq keygen`); env AUDITQ_SIGNING_KEY_FILE. */
    signingKeyFile: z.string().min(1).optional(),
    /** The PEM itself, for platforms that inject secrets as variables; env AUDITQ_SIGNING_KEY. */
    signingKey: z.string().min(1).optional(),
    /**
     * How often `serve` / `worker` sign the chain heads that moved, when a key is configured.
     * Events after the last checkpoint are protected by the chain only, so this bounds the window
     * in which a rewrite by someone with database access can go unnoticed.
     */
    checkpointIntervalMs: z.coerce.number().int().min(1_000).default(15 * 60_000),
    /**
     * Keep the Merkle tree over each chain and sign its root in every checkpoint (proofs, verifiable
     * bundles). Off only to measure its cost: checkpoints then sign the head alone, as before.
     */
    merkleTree: textBoolean().default(true),
  })
  .prefault({})

export const completenessSchema = z
  .strictObject({
    /**
     * How long after its numbers were issued a gap counts as in flight (queued, spilled, pending
     * in a worker) rather than missing: longer than a normal queue backlog, shorter than an
     * outage someone should be told about.
     */
    inFlightBoundMs: z.coerce.number().int().min(1_000).default(15 * 60_000),
    /** How often an SDK producer writes its head record (and any pending rejection record). */
    headIntervalMs: z.coerce.number().int().min(100).default(60_000),
  })
  .prefault({})
