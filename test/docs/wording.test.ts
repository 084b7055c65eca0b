/**
 * User-facing documentation speaks about auditq and the designs it replaces by what they are, never
 * by the project's internal history (its tickets, working names or paths outside the repository),
 * and the README stays a guide short enough to read in the first hour.
 */
import { describe, expect, it } from 'vitest'
import { documentationFiles, read } from './markdown.js'

const INTERNAL = [/seed/i, /issue #/i, /\.\.\/shared/i]

describe('documentation wording', () => {
  it('mentions no internal names, ticket numbers or paths outside the repository', () => {
    const hits: string[] = []
    for (const file of documentationFiles()) {
      read(file)
        .split('\n')
        .forEach((line, index) => {
          for (const word of INTERNAL) if (word.test(line)) hits.push(`${file}:${index + 1}: ${word} in ${line.trim().slice(0, 120)}`)
        })
    }
    expect(hits).toEqual([])
  })

  it('keeps the README a guide of at most 320 lines', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(320)
  })
})
