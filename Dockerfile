# The Lifeboat worker and CLI image. Build: docker build -t lifeboat .
# Holds PostgreSQL 15 (client tools pg_dump, pg_dumpall, pg_basebackup, psql, pg_restore, and the
# server binaries that point-in-time recovery starts a recovered cluster with), GnuPG, zstd and
# tar, so every artifact can also be restored by hand from inside the container.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib lib
COPY activities activities
COPY workflows workflows
COPY workers workers
COPY client client
COPY scripts scripts
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json && node scripts/bundle-workflows.js && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15 gnupg zstd tar ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY docs docs
RUN ln -s /app/bin/lifeboat.js /usr/local/bin/lifeboat
# The worker bundles workflows from dist/workflows at start; no network access is needed at run time.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/lifeboat.js"]
CMD ["worker"]
