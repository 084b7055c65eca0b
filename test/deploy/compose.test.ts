/**
 * compose.yaml and the Dockerfile, proved without a container runtime: the files are parsed and
 * checked for the settings that keep events safe, then every service of the compose file is
 * started as a plain local process from the same command and environment — a redis-server with
 * exactly the compose's arguments, the test PostgreSQL (a schema of its own) standing in for the
 * postgres service, the one-shot `keys` service, `serve` and two workers — and events go through.
 * What is rewritten, and only that: service host names → local ports, container paths (/app, named
 * volumes, the image's VOLUME) → the repo and temp dirs, and a worker's container hostname →
 * AUDITQ_WORKER_SLOT (both workers share this machine's hostname, which names the Redis consumer).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisServerAvailable } from '../support/redis-server.js'
import { dropSchemas, postgresAvailable, POSTGRES_URL, uniqueSchema } from '../support/services.js'
import { bindMounts, dockerIgnored, execForm, namedMounts, readCompose, readDockerfile, readPrometheusConfig, ROOT, stageEnv, type ComposeService } from './deployment-files.js'

const compose = readCompose()
const stages = readDockerfile()
const runtime = stages.at(-1)!
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

describe('compose.yaml and Dockerfile', () => {
  it('configure Redis to fsync every write and never evict the queue', () => {
    const command = compose.services.redis!.command!
    const flag = (name: string) => command[command.indexOf(name) + 1]
    expect(command[0]).toBe('redis-server')
    expect(flag('--appendonly')).toBe('yes')
    expect(flag('--appendfsync')).toBe('always')
    expect(flag('--maxmemory-policy')).toBe('noeviction')
    // Its data, the service's spill journal and PostgreSQL's data outlive the containers.
    expect(namedMounts(compose.services.redis!).get('/data')).toBe('redis-data')
    expect(namedMounts(compose.services.auditq!).get(compose.services.auditq!.environment!.AUDITQ_DATA_DIR!)).toBe('auditq-data')
    expect(namedMounts(compose.services.postgres!).get('/var/lib/postgresql/data')).toBe('postgres-data')
  })

  it('give every long-running service a health check, and start auditq after the key exists', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.restart === 'no') continue
      expect(service.healthcheck?.test?.length, `${name} has a health check`).toBeGreaterThan(0)
      expect(service.healthcheck?.disable, name).toBeUndefined()
    }
    for (const name of ['auditq', 'worker-1', 'worker-2', 'prometheus']) {
      expect(compose.services[name]!.depends_on?.keys?.condition, name).toBe('service_completed_successfully')
    }
    expect(compose.services.auditq!.command).toEqual(['serve', '--no-worker'])
    expect(compose.services['worker-1']!.command?.[0]).toBe('worker')
    expect(compose.services['worker-2']!.command?.[0]).toBe('worker')
    expect(compose.services['worker-1']!.hostname).not.toBe(compose.services['worker-2']!.hostname)
  })

  it('point the database URL at the postgres service with its own user, password and database', () => {
    const url = new URL(compose.services.auditq!.environment!.AUDITQ_DATABASE_URL!)
    const postgres = compose.services.postgres!.environment!
    expect(url.hostname).toBe('postgres')
    expect(decodeURIComponent(url.username)).toBe(postgres.POSTGRES_USER)
    expect(decodeURIComponent(url.password)).toBe(postgres.POSTGRES_PASSWORD)
    expect(url.pathname).toBe(`/${postgres.POSTGRES_DB}`)
    // A password set for the deployment reaches both sides.
    const custom = readCompose({ POSTGRES_PASSWORD: 's3cret' })
    expect(new URL(custom.services.auditq!.environment!.AUDITQ_DATABASE_URL!).password).toBe('s3cret')
    expect(custom.services.postgres!.environment!.POSTGRES_PASSWORD).toBe('s3cret')
    expect(new URL(compose.services.auditq!.environment!.AUDITQ_REDIS_URL!).hostname).toBe('redis')
  })

  it('give Prometheus the key file the keys service writes, on the volume both mount', () => {
    const job = readPrometheusConfig().scrape_configs.find((c) => c.job_name === 'auditq')!
    expect(job.authorization?.type).toBe('Bearer')
    const written = argAfter(compose.services.keys!.command!, '--file')
    expect(volumePath(compose.services.prometheus!, job.authorization!.credentials_file!)).toEqual(volumePath(compose.services.keys!, written))
    expect(argAfter(compose.services.keys!.command!, '--scopes')).toBe('admin') // /metrics takes the admin scope
    expect(bindMounts(compose.services.prometheus!).get('/etc/prometheus/prometheus.yml')).toBe('./deploy/prometheus.yml')
    const workers = readPrometheusConfig().scrape_configs.find((c) => c.job_name === 'auditq-worker')!
    expect(workers.static_configs.flatMap((s) => s.targets)).toEqual(['worker-1:9464', 'worker-2:9464'])
  })

  it('build a runtime stage that runs as a non-root user from commands and files that exist', () => {
    expect(runtime.from).toBe('${NODE_IMAGE}')
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m)
    expect(runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args).toBe('node')
    expect(stageEnv(runtime)).toMatchObject({ AUDITQ_DATA_DIR: '/data', AUDITQ_HOST: '0.0.0.0', NODE_ENV: 'production' })
    expect(runtime.instructions.some((i) => i.keyword === 'VOLUME' && i.args.includes('/data'))).toBe(true)
    expect(execForm(runtime, 'HEALTHCHECK')).toEqual(['node', '/app/deploy/healthcheck.mjs'])
    // Every command a RUN line of the runtime stage calls is a shell builtin or on PATH here
    // (the slim Debian image has the same coreutils).
    for (const { keyword, args } of runtime.instructions) {
      if (keyword !== 'RUN') continue
      for (const part of args.split(/&&|\|\||;|\|/)) {
        const word = part.trim().split(/\s+/)[0]!
        expect(spawnSync('sh', ['-c', `command -v ${word}`]).status, `RUN uses ${word}`).toBe(0)
      }
    }
    // Every COPY from the build context names a file that exists and that .dockerignore lets through.
    const ignored = dockerIgnored()
    for (const stage of stages) {
      for (const { keyword, args } of stage.instructions) {
        if (keyword !== 'COPY' || args.startsWith('--from')) continue
        const sources = args.split(/\s+/).filter((word) => !word.startsWith('--')).slice(0, -1)
        for (const source of sources) {
          expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true)
          expect(ignored, `COPY ${source} is not ignored`).not.toContain(source.split('/')[0])
        }
      }
    }
    // The runtime stage takes production node_modules from the stage that ran `npm ci --omit=dev`.
    const deps = stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('npm ci --omit=dev')))!
    expect(runtime.instructions.some((i) => i.keyword === 'COPY' && i.args.startsWith(`--from=${deps.name} `) && i.args.includes('node_modules'))).toBe(true)
  })

  it('has a prometheus.yml promtool accepts (when promtool is installed)', () => {
    if (spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status !== 0) {
      console.log('promtool not on PATH (Debian package `prometheus`): prometheus.yml not checked by promtool')
      return
    }
    // promtool insists the credentials file exists: point it at a stand-in.
    const dir = mkdtempSync(join(tmpdir(), 'auditq-promtool-'))
    try {
      const keyFile = join(dir, 'prometheus.key')
      writeFileSync(keyFile, 'aq_0000000000000000_stand-in')
      const text = readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8').replace('/etc/prometheus/keys/prometheus.key', keyFile)
      writeFileSync(join(dir, 'prometheus.yml'), text)
      const check = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' })
      expect(check.status, check.stdout + check.stderr).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('compose.yaml run as local processes', () => {
  let available = false
  const schema = uniqueSchema('deploy')
  const temp = mkdtempSync(join(tmpdir(), 'auditq-deploy-'))
  const started: Service[] = []

  beforeAll(async () => {
    available = (await postgresAvailable()) && redisServerAvailable()
  })

  afterAll(async () => {
    for (const service of started.reverse()) await service.stop('SIGKILL')
    if (available) await dropSchemas([schema])
    rmSync(temp, { recursive: true, force: true })
  })

  it('starts on 0.0.0.0 once the keys service made a key, stores events through two workers, reports healthy and serves /metrics to the Prometheus key', async ({ skip }) => {
    if (!available) skip('PostgreSQL or redis-server unavailable')
    const volumes = new Map<string, string>()
    const volumeDir = (name: string) => volumes.get(name) ?? volumes.set(name, mkdtempSync(join(temp, `${name}-`))).get(name)!

    // redis: the compose command verbatim, with the port and the image's working dir (/data) local.
    const redisPort = await freePort()
    const redisArgs = compose.services.redis!.command!.slice(1)
    const redis = launch('redis', 'redis-server', [...redisArgs, '--port', String(redisPort), '--bind', '127.0.0.1', '--dir', volumeDir('redis-data')], process.env)
    started.push(redis)
    const client = new Redis(`redis://127.0.0.1:${redisPort}`, { retryStrategy: () => 100 })
    client.on('error', () => undefined)
    try {
      await until(async () => (await client.ping()) === 'PONG', 10_000, () => `redis-server did not answer:\n${redis.output()}`)
      for (const [setting, value] of [['appendonly', 'yes'], ['appendfsync', 'always'], ['maxmemory-policy', 'noeviction']]) {
        expect(await client.config('GET', setting!)).toEqual([setting, value])
      }
    } finally {
      client.disconnect()
    }

    const ports = new Map<string, number>([['auditq', await freePort()], ['worker-1', await freePort()], ['worker-2', await freePort()]])
    const local = (name: string) => localProcess(name, compose.services[name]!, { redisPort, schema, port: ports.get(name), volumeDir, temp })

    // Without a key the service refuses to listen on 0.0.0.0: this is why the keys service exists.
    const open = local('auditq')
    const refused = launch('auditq (no key yet)', open.argv[0]!, open.argv.slice(1), open.env)
    started.push(refused)
    expect(await refused.exited).not.toBe(0)
    expect(refused.output()).toContain('AUDITQ_CONFIG')

    // keys: one-shot, and a second run keeps the key it made.
    const keys = local('keys')
    const keyFile = keys.path(argAfter(compose.services.keys!.command!, '--file'))
    expect(await run(keys.argv, keys.env)).toMatchObject({ code: 0 })
    const token = readFileSync(keyFile, 'utf8')
    expect(await run(keys.argv, keys.env)).toMatchObject({ code: 0 })
    expect(readFileSync(keyFile, 'utf8')).toBe(token)
    // A revoked key (or a new database) gets a replacement on the next run.
    const cli = local('auditq').argv.slice(0, 2)
    expect(await run([...cli, 'keys', 'revoke', /^aq_([0-9a-f]{16})_/.exec(token)![1]!], keys.env)).toMatchObject({ code: 0 })
    expect(await run(keys.argv, keys.env)).toMatchObject({ code: 0 })
    expect(readFileSync(keyFile, 'utf8')).not.toBe(token)

    for (const name of ['auditq', 'worker-1', 'worker-2']) {
      const service = local(name)
      started.push(launch(name, service.argv[0]!, service.argv.slice(1), service.env))
    }
    const base = `http://127.0.0.1:${ports.get('auditq')}`
    await until(async () => (await fetch(`${base}/api/v1/monitoring/health`).catch(() => undefined))?.status === 200, 30_000, () => started.map((s) => s.output()).join('\n'))

    // Every auditq container's health check command passes.
    await Promise.all(
      ['auditq', 'worker-1', 'worker-2'].map((name) => {
        const service = local(name)
        const check = service.rewriteArgs(compose.services[name]!.healthcheck!.test!.slice(1))
        return until(async () => (await run(check, service.env)).code === 0, 15_000, () => `${name} health check failed`)
      }),
    )

    // The operator's first key, as docs/deploy.md creates it (`docker compose exec auditq auditq keys create ...`).
    const created = await run([...cli, 'keys', 'create', '--tenant', 'acme', '--scopes', 'ingest,read'], local('auditq').env)
    expect(created.code, created.stderr).toBe(0)
    const ingestKey = created.stdout.trim()

    const events = Array.from({ length: 200 }, (_, i) => ({ action: 'deploy.check', actor_id: `user-${i % 7}`, resource_type: 'doc', resource_id: `doc-${i}` }))
    for (let i = 0; i < events.length; i += 50) {
      const response = await fetch(`${base}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: events.slice(i, i + 50) }) })
      expect(response.status).toBe(202)
    }
    // The service runs --no-worker: only the two workers can have written these.
    const db = new pg.Client({ connectionString: POSTGRES_URL })
    await db.connect()
    try {
      await until(async () => Number((await db.query(`select count(*) from "${schema}".audit_logs where tenant_id = 'acme'`)).rows[0].count) === events.length, 30_000, () => started.map((s) => s.output()).join('\n'))
    } finally {
      await db.end()
    }

    // auditq's own reading of the compose Redis settings, logged at start.
    expect(started.find((s) => s.name === 'auditq')!.output()).toContain('"loss_window":"nothing"')

    const health = await fetch(`${base}/api/v1/monitoring/health`)
    expect(health.status).toBe(200)
    expect(((await health.json()) as { status: string }).status).toBe('healthy')

    // Prometheus: the token is the file its config names, read through its own mounts.
    const job = readPrometheusConfig().scrape_configs.find((c) => c.job_name === 'auditq')!
    const prometheus = local('prometheus')
    const bearer = readFileSync(prometheus.path(job.authorization!.credentials_file!), 'utf8').trim()
    expect((await fetch(`${base}${job.metrics_path}`)).status).toBe(401)
    const scraped = await fetch(`${base}${job.metrics_path}`, { headers: { authorization: `Bearer ${bearer}` } })
    expect(scraped.status).toBe(200)
    expect(await scraped.text()).toMatch(/^auditq_/m)
    // The workers' own targets, without a token; between them they wrote every event.
    let storedByWorkers = 0
    for (const target of readPrometheusConfig().scrape_configs.find((c) => c.job_name === 'auditq-worker')!.static_configs[0]!.targets) {
      const worker = await fetch(`http://127.0.0.1:${ports.get(target.split(':')[0]!)}/metrics`)
      expect(worker.status, target).toBe(200)
      storedByWorkers += Number(/^auditq_worker_events_stored_total (\d+)$/m.exec(await worker.text())?.[1] ?? 0)
    }
    expect(storedByWorkers).toBe(events.length)

    // `docker compose down` sends SIGTERM: each process drains and exits 0.
    for (const service of started.filter((s) => ['auditq', 'worker-1', 'worker-2'].includes(s.name))) {
      expect(await service.stop('SIGTERM'), `${service.name} exit code\n${service.output()}`).toBe(0)
    }
  }, 90_000)
})

/** The value after `flag` in an argument list. */
function argAfter(args: string[], flag: string): string {
  const index = args.indexOf(flag)
  if (index < 0) throw new Error(`no ${flag} in ${JSON.stringify(args)}`)
  return args[index + 1]!
}

/** [volume name, path inside it] for a container path of a service. */
function volumePath(service: ComposeService, containerPath: string): [string, string] {
  for (const [target, volume] of namedMounts(service)) {
    if (containerPath.startsWith(`${target}/`)) return [volume, containerPath.slice(target.length + 1)]
  }
  throw new Error(`${containerPath} is on no named volume of the service`)
}

interface LocalProcess {
  argv: string[]
  env: NodeJS.ProcessEnv
  /** A container path of this service → the local file. */
  path(containerPath: string): string
  rewriteArgs(args: string[]): string[]
}

/** A compose service of the auditq image as a local process: the only rewrites are listed at the top. */
function localProcess(name: string, service: ComposeService, context: { redisPort: number; schema: string; port: number | undefined; volumeDir: (name: string) => string; temp: string }): LocalProcess {
  // Named volumes, then the image's VOLUME /data as an anonymous volume, then the image itself.
  const mounts: [string, string][] = [...namedMounts(service)].map(([target, volume]) => [target, context.volumeDir(volume)])
  if (!mounts.some(([target]) => target === '/data')) mounts.push(['/data', context.volumeDir(`${name}-anonymous`)])
  mounts.push(['/app', ROOT])
  const path = (containerPath: string) => {
    for (const [target, local] of mounts) {
      if (containerPath === target || containerPath.startsWith(`${target}/`)) return local + containerPath.slice(target.length)
    }
    throw new Error(`${name}: container path ${containerPath} is on no mount`)
  }
  const metricsPort = context.port
  const rewriteArgs = (args: string[]) =>
    args.map((arg, index) => {
      if (args[index - 1] === '--metrics-port') return String(metricsPort)
      if (arg.startsWith('/')) return path(arg)
      return arg.replace(/^http:\/\/127\.0\.0\.1:9464\//, `http://127.0.0.1:${metricsPort}/`)
    })
  const image = { ...stageEnv(runtime) }
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AUDITQ_')))
  const env: NodeJS.ProcessEnv = { ...inherited, ...image, AUDITQ_LOG_FORMAT: 'json' }
  for (const [key, value] of Object.entries(service.environment ?? {})) {
    if (key === 'AUDITQ_DATABASE_URL') {
      env[key] = POSTGRES_URL
      env.AUDITQ_DATABASE_SCHEMA = context.schema
    } else if (key === 'AUDITQ_REDIS_URL') env[key] = `redis://127.0.0.1:${context.redisPort}`
    else if (value.startsWith('/')) env[key] = path(value)
    else env[key] = value
  }
  if (env.AUDITQ_DATA_DIR?.startsWith('/data')) env.AUDITQ_DATA_DIR = path(env.AUDITQ_DATA_DIR)
  if (name === 'auditq') {
    // The container listens on AUDITQ_PORT and publishes it as is.
    expect(service.ports).toContain(`${image.AUDITQ_PORT}:${image.AUDITQ_PORT}`)
    env.AUDITQ_PORT = String(context.port)
  }
  if (service.hostname) env.AUDITQ_WORKER_SLOT = service.hostname
  const entrypoint = service.entrypoint ?? execForm(runtime, 'ENTRYPOINT')
  const command = service.command ?? (service.entrypoint ? [] : execForm(runtime, 'CMD'))
  return { argv: rewriteArgs([...entrypoint, ...command]), env, path, rewriteArgs }
}

interface Service {
  name: string
  exited: Promise<number | null>
  output(): string
  stop(signal: NodeJS.Signals): Promise<number | null>
}

function launch(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Service {
  const child: ChildProcess = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-64_000))
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    name,
    exited,
    output: () => `--- ${name}\n${output}`,
    async stop(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stdout, stderr }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, describeFailure: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms\n${describeFailure()}`)
    await sleep(200)
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
