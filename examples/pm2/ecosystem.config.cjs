// PM2 deployment of auditq in queue mode: ingest-only API instances plus queue workers.
// `pm2 start examples/pm2/ecosystem.config.cjs` (after `npm run build`), then `pm2 save`.
//
// Workers share one Redis consumer group, so adding instances adds throughput; an instance killed
// mid-batch loses nothing (its pending entries are claimed by the others after worker.claimIdleMs).
// Give each worker a stable AUDITQ_WORKER_SLOT (PM2's NODE_APP_INSTANCE) so a restarted instance
// reclaims its own pending entries immediately.
const shared = {
  AUDITQ_DATABASE_URL: 'postgres://auditq@db.internal:5432/audit',
  AUDITQ_REDIS_URL: 'redis://redis.internal:6379',
  AUDITQ_LOG_LEVEL: 'info',
}

module.exports = {
  apps: [
    {
      name: 'auditq-api',
      script: 'dist/cli/index.js',
      args: 'serve --no-worker --host 0.0.0.0 --port 3000',
      instances: 2,
      exec_mode: 'cluster',
      // SIGTERM → stop accepting, flush the producer; give it the service's own deadline (15 s).
      kill_timeout: 20_000,
      env: shared,
    },
    {
      name: 'auditq-worker',
      script: 'dist/cli/index.js',
      args: 'worker',
      instances: 2,
      exec_mode: 'fork',
      // SIGTERM → stop reading, write and acknowledge what is held, exit within worker.shutdownDeadlineMs (10 s).
      kill_timeout: 15_000,
      max_memory_restart: '500M',
      // PM2 sets NODE_APP_INSTANCE per instance; auditq uses AUDITQ_WORKER_SLOT for stable consumer names.
      instance_var: 'AUDITQ_WORKER_SLOT',
      env: shared,
    },
  ],
}
