/**
 * One status line on stderr: rewritten in place on a terminal, otherwise printed at most every
 * few seconds so a CI log stays short. Only stderr: stdout carries the results.
 */
export class Progress {
  private lastPrinted = 0
  private width = 0
  private readonly tty = process.stderr.isTTY === true

  constructor(private readonly everyMs = 3_000) {}

  update(text: string): void {
    const now = Date.now()
    if (this.tty) {
      const line = text.length < this.width ? text.padEnd(this.width) : text
      this.width = text.length
      process.stderr.write(`\r${line}`)
      return
    }
    if (now - this.lastPrinted < this.everyMs) return
    this.lastPrinted = now
    process.stderr.write(`${text}\n`)
  }

  /** A line that stays (a finished step); clears the status line first. */
  log(text: string): void {
    if (this.tty && this.width > 0) process.stderr.write(`\r${' '.repeat(this.width)}\r`)
    this.width = 0
    this.lastPrinted = 0
    process.stderr.write(`${text}\n`)
  }
}

export const progress = new Progress()
