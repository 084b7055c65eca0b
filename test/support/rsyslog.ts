/**
 * A real rsyslogd for sink tests: its own config, work directory and pid file in a temp dir, a TCP
 * (or TLS, via the ossl netstream driver from Debian's rsyslog-openssl) input on a free port, and
 * every message written to one file as `SD MSG` lines the test counts and compares.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

export const RSYSLOGD = '/usr/sbin/rsyslogd'

export function rsyslogAvailable(options: { tls?: boolean } = {}): boolean {
  const ok = existsSync(RSYSLOGD) && (!options.tls || existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so') || existsSync('/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_ossl.so'))
  if (!ok && process.env.CI === 'true') throw new Error(`rsyslogd${options.tls ? ' with the ossl driver (rsyslog-openssl)' : ''} is required in CI`)
  return ok
}

export interface TlsFiles {
  ca: string
  cert: string
  key: string
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export function makeCertificates(dir: string): TlsFiles {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=auditq test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem')
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server-key.pem', '-out', 'server.csr')
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem')
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem') }
}

export class Rsyslog {
  readonly dir = mkdtempSync(join(tmpdir(), 'auditq-rsyslog-'))
  readonly output = join(this.dir, 'out.log')
  port = 0
  private child: ChildProcess | null = null
  private stderr = ''

  constructor(private readonly tls: TlsFiles | null = null) {}

  async start(port?: number): Promise<number> {
    this.port = port ?? (await freePort())
    const driver = this.tls
      ? `global(DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="${this.tls.ca}" DefaultNetstreamDriverCertFile="${this.tls.cert}" DefaultNetstreamDriverKeyFile="${this.tls.key}")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")`
      : 'module(load="imtcp")'
    const config = `global(workDirectory="${this.dir}" maxMessageSize="64k")
${driver}
input(type="imtcp" port="${this.port}" address="127.0.0.1")
template(name="sdmsg" type="string" string="%msgid% %structured-data% %msg%\\n")
action(type="omfile" file="${this.output}" template="sdmsg" flushOnTXEnd="on" asyncWriting="off")
`
    writeFileSync(join(this.dir, 'rsyslog.conf'), config)
    const child = spawn(RSYSLOGD, ['-n', '-f', join(this.dir, 'rsyslog.conf'), '-i', join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
    this.child = child
    const deadline = Date.now() + 10_000
    while (!(await accepting(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`rsyslogd did not start: ${this.stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return this.port
  }

  /** rsyslogd's process id while it runs (it runs in the foreground, `-n`). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /** The lines written so far. */
  lines(): string[] {
    if (!existsSync(this.output)) return []
    return readFileSync(this.output, 'utf8').split('\n').filter((line) => line !== '')
  }

  async stop(): Promise<void> {
    const child = this.child
    this.child = null
    if (!child || child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
    })
  }

  async dispose(): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
