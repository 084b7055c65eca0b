/** Runs async sections one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve()

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section)
    // The next section waits for this one to settle, whether it succeeded or not.
    this.tail = result.catch(() => undefined)
    return result
  }
}
