/**
 * `ipVersion` (runtime-neutral, src/event/ip-syntax.ts) against `node:net` `isIP`, which it
 * replaced in the validator so it runs on Cloudflare Workers. Same inputs, same run:
 *
 *   npx vitest bench --run bench/ip-syntax.bench.ts
 */
import { isIP } from 'node:net'
import { bench, describe } from 'vitest'
import { ipVersion } from '../src/event/ip-syntax.js'

const INPUTS = ['203.0.113.42', '2001:DB8:0:0:0:0:0:1', '::ffff:192.0.2.1', 'fe80::1:2:3:4', '999.1.1.1', 'not-an-ip', '10.0.0.1', '2001:db8::8a2e:370:7334']
const ROUNDS = 1000

describe(`IP syntax, ${ROUNDS * INPUTS.length} checks per iteration`, () => {
  bench('node:net isIP', () => {
    for (let i = 0; i < ROUNDS; i++) for (const text of INPUTS) isIP(text)
  })
  bench('ipVersion', () => {
    for (let i = 0; i < ROUNDS; i++) for (const text of INPUTS) ipVersion(text)
  })
})
