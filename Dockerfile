# syntax=docker/dockerfile:1
# auditq: `docker build -t auditq .`, then see docs/deploy.md.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- toolchain: better-sqlite3 compiles its native binding when no prebuilt binary matches ----
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./

# --- build: every dependency, then TypeScript into dist/ ------------------------------------
# No install scripts: the compiler needs no native binding, and the runtime takes node_modules
# from the deps stage, not from here.
FROM toolchain AS build
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-dashboard-assets.mjs ./scripts/
COPY src ./src
RUN npm run build

# --- deps: production dependencies only (native binding compiled here, for this platform) ---
# Of better-sqlite3's build only the binding is kept: the SQLite sources and object files it
# compiled from are about half of the production node_modules.
FROM toolchain AS deps
RUN npm ci --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

# --- runtime: node, production node_modules, dist/; no compiler, no sources, not root --------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    AUDITQ_HOST=0.0.0.0 \
    AUDITQ_PORT=3000 \
    AUDITQ_DATA_DIR=/data \
    AUDITQ_LOG_FORMAT=json
WORKDIR /app
# /data: the embedded store and the queue-mode spill journal. /keys: where the compose file's
# one-shot `keys` service writes the key Prometheus scrapes with. Both belong to the `node` user
# (uid 1000, from the base image), so named volumes mounted there start writable by it.
# `auditq` on PATH, so `docker exec <container> auditq keys list` works.
RUN mkdir -p /data /keys \
 && chown node:node /data /keys \
 && printf '#!/bin/sh\nexec node /app/dist/cli/index.js "$@"\n' > /usr/local/bin/auditq \
 && chmod 755 /usr/local/bin/auditq
COPY package.json ./
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY deploy/healthcheck.mjs deploy/ensure-key.mjs ./deploy/
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/deploy/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/dist/cli/index.js"]
CMD ["serve"]
