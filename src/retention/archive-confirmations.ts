/**
 * Archive before delete: what retention asks of the archive stream before it cuts a tenant's chain.
 * The stream store implements it (the highest seq an archive sink has durably written for the
 * tenant); retention never deletes an event above that seq, so nothing leaves the database before
 * it is in the archive.
 */
export interface ArchiveConfirmations {
  /** Highest seq of the tenant an archive stream has confirmed; null = no archive stream is configured. */
  confirmedThrough(tenantId: string): Promise<number | null>
}
