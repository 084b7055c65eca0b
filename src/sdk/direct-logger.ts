import type { AuditEvent } from '../event/types.js'
import type { EventOutcome } from '../store/isolating-insert.js'
import type { Store } from '../store/store.js'
import { BaseAuditLogger, type AuditLoggerOptions } from './audit-logger.js'
import { GroupCommitter } from './group-commit.js'

export const DEFAULT_GROUP_COMMIT = { maxBatchEvents: 500, maxWaitMs: 0 }

/** Direct mode: every accepted event is group-committed to the store before its call resolves. */
export class DirectAuditLogger extends BaseAuditLogger {
  protected readonly committer: GroupCommitter

  constructor(
    store: Store,
    private readonly ownsStore: boolean,
    options: AuditLoggerOptions,
  ) {
    super(store, options)
    this.committer = new GroupCommitter(store, {
      ...DEFAULT_GROUP_COMMIT,
      ...options.groupCommit,
      onCommit: (report) => {
        this.counters.recordCommit(report)
        options.observeCommit?.(report)
      },
    })
  }

  protected route(events: AuditEvent[], options: { critical: boolean }): Promise<EventOutcome[]> {
    return this.committer.submit(events, { urgent: options.critical })
  }

  protected async shutdown(): Promise<void> {
    await this.committer.drain()
    if (this.ownsStore) await this.store.close()
  }
}
