/**
 * A one-line progress display for long CLI operations (export, DLQ replay, cleanup). It draws on
 * a terminal only; otherwise every call is a no-op, so piped and CI runs stay quiet and their
 * output machine-readable. No dependency: a carriage return and a line of text.
 */
export interface Progress {
  /** Count `n` more items done. */
  tick(n?: number): void
  /** Ends the display, leaving a final line (or nothing when not drawing). */
  done(summary?: string): void
}

export interface ProgressOptions {
  label: string
  /** Items expected, when known (shows a bar and a percentage). */
  total?: number
  /** Where to draw; default stderr (stdout may be the command's data). */
  stream?: Pick<NodeJS.WriteStream, 'write' | 'isTTY' | 'columns'>
  /** Override the terminal check (e.g. off when the command writes its data to the same terminal). */
  enabled?: boolean
  now?: () => number
}

/** Redraw at most this often: drawing per item would cost more than the work on fast loops. */
const REDRAW_MS = 100

const NOOP: Progress = { tick: () => undefined, done: () => undefined }

export function progress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr
  const enabled = options.enabled ?? stream.isTTY === true
  if (!enabled) return NOOP
  const now = options.now ?? Date.now
  const started = now()
  let count = 0
  let lastDrawn = 0
  const draw = () => {
    lastDrawn = now()
    stream.write(`\r\x1b[2K${progressLine(options.label, count, options.total, (lastDrawn - started) / 1000, stream.columns ?? 80)}`)
  }
  return {
    tick(n = 1) {
      count += n
      if (now() - lastDrawn >= REDRAW_MS) draw()
    },
    done(summary) {
      draw()
      stream.write(summary === undefined ? '\n' : `\r\x1b[2K${summary}\n`)
    },
  }
}

/** The text of one redraw; pure, so its layout is tested without a terminal. */
export function progressLine(label: string, count: number, total: number | undefined, elapsedSeconds: number, columns: number): string {
  const rate = elapsedSeconds > 0 ? `${fmt(count / elapsedSeconds)}/s` : ''
  if (total === undefined || total <= 0) return `${label} ${fmt(count)} ${rate}`.trimEnd()
  const fraction = Math.min(1, count / total)
  const figures = `${Math.floor(fraction * 100)}% ${fmt(count)}/${fmt(total)} ${rate}`.trimEnd()
  const width = Math.max(10, Math.min(40, columns - label.length - figures.length - 4))
  const filled = Math.round(fraction * width)
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${figures}`
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}
