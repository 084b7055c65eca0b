import { isIP } from 'node:net'

/** 127.0.0.0/8, ::1 and `localhost`: only processes on this machine can reach such a socket. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1' || host === '0:0:0:0:0:0:0:1'
}
