/**
 * Waits for `work` at most `ms`: resolves to its value, or to `undefined` when the deadline passes
 * first or `work` fails. The timer is always cleared, so a settled race never keeps the process up.
 * The work itself is not cancelled: callers bound what they wait for, not what runs.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, ms))
  })
  try {
    return await Promise.race([work.catch(() => undefined), deadline])
  } finally {
    clearTimeout(timer)
  }
}
