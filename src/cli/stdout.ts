/**
 * `auditq export | head`: the reader has what it wanted and closed the pipe. Like other unix tools,
 * the CLI then stops quietly with success, instead of printing `write EPIPE` (or, from a plain
 * `process.stdout.write`, an unhandled 'error' event's stack). Node ignores SIGPIPE, so the write
 * error is the only sign; process.stdout is never marked destroyed, hence the flag.
 */
let readerGone = false

export function watchStdout(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    readerGone = true
  })
}

/** True once a write found nobody reading stdout: stop producing output. */
export function stdoutReaderGone(): boolean {
  return readerGone
}
