/**
 * "This process just committed events": a wake-up for feed readers waiting in the same process
 * (long-poll, SSE). A hint only, never a source of data; readers that miss it poll anyway.
 */
export class CommitSignal {
  private readonly listeners = new Set<() => void>()

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  notify(): void {
    for (const listener of this.listeners) {
      try {
        listener()
      } catch {
        // A waiter's failure is its own; the insert that signalled has already succeeded.
      }
    }
  }
}
