import { isCritical, type EventOutcome } from '../event/intake.js'
import type { AuditEvent } from '../event/types.js'
import type { Store } from '../store/store.js'
import { BaseAuditLogger } from './base-logger.js'
import type { GroupCommitter } from './group-commit.js'
import type { AuditLoggerOptions, Ownership } from './types.js'

/** Direct mode: every accepted event is group-committed to the store before its call resolves. */
export class DirectAuditLogger extends BaseAuditLogger {
  protected readonly committer: GroupCommitter
  private readonly ownsStore: boolean

  constructor(store: Store, options: AuditLoggerOptions, ownership: Ownership) {
    super(store, options)
    this.ownsStore = ownership.ownsStore
    this.committer = this.createCommitter(options)
  }

  protected route(events: AuditEvent[]): Promise<EventOutcome[]> {
    // A critical event skips the linger, and takes the events of its call along with it.
    return this.committer.submit(events, { urgent: events.some(isCritical) })
  }

  protected async shutdown(): Promise<void> {
    await this.committer.drain()
    if (this.ownsStore) await this.store.close()
  }
}
