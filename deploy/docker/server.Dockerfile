# The Longbow node image. Build from the repository root:
#   docker build -f deploy/docker/server.Dockerfile -t longbow/longbow:0.1.0 .
# Stage 1 installs production dependencies (N-API addons compile or fetch their prebuilt
# binaries here, where a compiler is available); stage 2 is Node 24 slim, non-root.
FROM node:24-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/flight/package.json packages/flight/
COPY packages/cluster/package.json packages/cluster/
COPY packages/client/package.json packages/client/
COPY packages/server/package.json packages/server/
COPY operator/package.json operator/
RUN npm ci --omit=dev --no-audit --no-fund --workspace packages/server --include-workspace-root=false

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    LONGBOW_DATA_PATH=/data \
    LONGBOW_SNAPSHOT_PATH=/snapshots
WORKDIR /app
RUN groupadd --system --gid 10001 longbow \
 && useradd --system --uid 10001 --gid longbow --home-dir /app --shell /usr/sbin/nologin longbow \
 && mkdir -p /data /snapshots && chown longbow:longbow /data /snapshots
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY packages/flight packages/flight
COPY packages/cluster packages/cluster
COPY packages/server packages/server
USER 10001:10001
# 3000 Flight data, 3001 Flight meta, 9090 metrics/health, 7946 gossip (UDP+TCP).
EXPOSE 3000 3001 9090 7946/udp 7946/tcp
VOLUME ["/data", "/snapshots"]
ENTRYPOINT ["node", "packages/server/bin/longbow.js"]
CMD ["serve"]
