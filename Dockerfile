# First version: builds the same dist/ the tests use and runs a scan. The daemon, its
# HEALTHCHECK and a compose example arrive with the service issue.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production CERTS_CONFIG=/etc/certs/certs.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY templates ./templates
COPY config/certs.example.yaml ./config/certs.example.yaml
RUN useradd --system --home /var/lib/certs --shell /usr/sbin/nologin certs \
 && mkdir -p /var/lib/certs /etc/certs && chown certs:certs /var/lib/certs && chmod 0700 /var/lib/certs
USER certs
VOLUME ["/var/lib/certs"]
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["scan"]
