/**
 * The access trail for CLI commands: who is the OS user running the command, and a recorder over
 * the store the command opened (no aggregation: one command, one record). A command whose record
 * cannot be written fails before it reads or changes anything.
 */
import { userInfo } from 'node:os'
import type { AccessActor, AccessKind } from '../access/access-event.js'
import { AccessRecorder } from '../access/recorder.js'
import type { Config } from '../config.js'
import type { Store } from '../store/store.js'
import { commandLogger } from './context.js'

export function cliActor(): AccessActor {
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // No passwd entry (a container's arbitrary uid): recorded as unknown rather than failing the command.
  }
  return { kind: 'cli', id: `cli:${user}` }
}

export function cliRecorder(store: Store, config: Config): AccessRecorder {
  return new AccessRecorder({
    write: (events) => store.insertBatch(events),
    isStoreUnavailable: (error) => store.classifyError(error) === 'transient',
    windowMs: 0,
    systemTenant: config.access.systemTenant,
    logger: commandLogger(config),
  })
}

/** Records one CLI access in the store; throws (and the command fails) when it cannot. */
export async function recordCliAccess(store: Store, config: Config, kind: AccessKind, tenant: string | null, what: Record<string, unknown>): Promise<void> {
  await cliRecorder(store, config).record({ kind, actor: cliActor(), tenant, what })
}
