# certs as a container: by default the daemon (scheduled cycles, /healthz, /metrics, /status).
#
#   docker build -t certs .
#   docker run -d --init --name certs --env-file /srv/certs/secrets.env \
#     -v /srv/certs/config:/config:ro -v certs-data:/data -p 127.0.0.1:9464:9464 certs
#   docker run --rm -v /srv/certs/config:/config:ro -v certs-data:/data certs scan   # any other command
#
# /config/certs.yaml (CERTS_CONFIG) must set `dataDir: /data` (a relative dataDir is resolved next to
# the config file) and, for the HEALTHCHECK and for scraping, `daemon: {http: {address: 0.0.0.0,
# port: 9464, token: "${env:CERTS_HTTP_TOKEN}"}}`: inside the container the endpoint listens on every
# address, and certs refuses that without a token. The token comes at run time (CERTS_HTTP_TOKEN in
# the env file, or `token: "${file:/run/secrets/certs_http_token}"`), never from the image; scrapers
# send it as `Authorization: Bearer …` (or as the Basic password). /healthz needs none.
# nginx is not in this image: certs reaches it through the config's deploy settings.
# Trust comes from Node's bundled Mozilla roots (no ca-certificates package); add private CAs with
# trust.caFile. Nothing here needs openssl or a shell tool at run time. `--init` reaps the processes
# hooks leave behind (node, as PID 1, still gets SIGTERM and stops within --shutdown-timeout).

# ---- build: compile TypeScript and better-sqlite3's native module, then drop dev dependencies ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The same commands as the README and scripts/ci.sh (test/unit/dockerfile.test.ts checks it).
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-fund --no-audit

# ---- runtime: the same base image (the native module was built against its glibc and Node) ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CERTS_CONFIG=/config/certs.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY templates ./templates
COPY config/certs.example.yaml ./config/certs.example.yaml
# A numeric non-root user (orchestrators can verify runAsNonRoot with it). /data is created and
# owned by it before VOLUME, so a fresh named volume starts with that owner and mode.
RUN groupadd --system --gid 10001 certs \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin certs \
 && mkdir -p /data /config \
 && chown 10001:10001 /data \
 && chmod 0700 /data
USER 10001:10001
VOLUME ["/data"]
# The HTTP endpoint: /healthz open, /metrics and /status behind daemon.http.token. Publish it on the
# host's loopback only (-p 127.0.0.1:9464:9464) unless a scraper elsewhere needs it.
EXPOSE 9464
# 200 while the daemon is alive ("starting" before the first cycle ends), 503 when the last cycle
# could not run; /healthz needs no token. slim images have no curl or wget: Node's fetch does it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (a shell would swallow it).
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["daemon"]
