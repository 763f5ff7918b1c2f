# The Longbow operator image. Build from the repository root:
#   docker build -f deploy/docker/operator.Dockerfile -t longbow/longbow-operator:0.1.0 .
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/flight/package.json packages/flight/
COPY packages/cluster/package.json packages/cluster/
COPY packages/client/package.json packages/client/
COPY packages/server/package.json packages/server/
COPY operator/package.json operator/
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts --workspace operator --include-workspace-root=false

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY operator/package.json operator/
COPY operator/bin operator/bin
COPY operator/src operator/src
# Any non-root UID works: the operator writes nothing to disk.
USER 10001:10001
ENTRYPOINT ["node", "operator/bin/longbow-operator.js"]
