/** Dates and numbers in the page's locale and the user's time zone, through Intl only. */
export function pageLocale(element: Element): string {
  const lang = element.closest('[lang]')?.getAttribute('lang') || document.documentElement.lang
  const candidates = [lang, navigator.language, 'en']
  for (const candidate of candidates) {
    if (!candidate) continue
    try {
      return Intl.getCanonicalLocales(candidate)[0] ?? 'en'
    } catch {
      // An invalid lang attribute falls through to the next candidate.
    }
  }
  return 'en'
}

export class Formats {
  readonly timeZone: string
  private readonly dateTime: Intl.DateTimeFormat
  private readonly number: Intl.NumberFormat

  constructor(readonly locale: string) {
    this.timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone
    this.dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' })
    this.number = new Intl.NumberFormat(locale)
  }

  time(iso: string): string {
    const date = new Date(iso)
    return Number.isNaN(date.getTime()) ? iso : this.dateTime.format(date)
  }

  count(n: number): string {
    return this.number.format(n)
  }
}

/** A `datetime-local` value (the user's wall clock) as an instant for the API, or undefined. */
export function localInputToIso(value: string): string | undefined {
  if (value === '') return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}
