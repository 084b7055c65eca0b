/**
 * `ipVersion` (runtime-neutral, src/event/ip-syntax.ts) against `node:net` `isIP`, which it
 * replaced in the validator so it runs on Cloudflare Workers. Same inputs, same run:
 *
 *   npm run bench:ip-syntax
 */
import { isIP } from 'node:net'
import { ipVersion } from '../src/event/ip-syntax.js'
import { formatRate, measureSync } from './harness.js'
import { printTable } from './stats.js'

const INPUTS = ['203.0.113.42', '2001:DB8:0:0:0:0:0:1', '::ffff:192.0.2.1', 'fe80::1:2:3:4', '999.1.1.1', 'not-an-ip', '10.0.0.1', '2001:db8::8a2e:370:7334']
const ROUNDS = 1000
const CHECKS = ROUNDS * INPUTS.length

// Both must agree before their speed means anything.
for (const text of INPUTS) {
  if (ipVersion(text) !== isIP(text)) throw new Error(`ipVersion and isIP disagree on ${text}`)
}

const candidates: [string, () => void][] = [
  ['node:net isIP', () => {
    for (let i = 0; i < ROUNDS; i++) for (const text of INPUTS) isIP(text)
  }],
  ['ipVersion', () => {
    for (let i = 0; i < ROUNDS; i++) for (const text of INPUTS) ipVersion(text)
  }],
]

process.stdout.write(`IP syntax, ${CHECKS} checks per iteration\n\n`)
printTable(
  ['implementation', 'checks/s', '± %'],
  candidates.map(([name, fn]) => {
    const { hz, spreadPercent } = measureSync(fn)
    return [name, formatRate(hz * CHECKS), spreadPercent.toFixed(1)]
  }),
)
