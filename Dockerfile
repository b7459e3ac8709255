# syntax=docker/dockerfile:1
# doom-rlvr: build with the toolchain better-sqlite3 compiles with, run slim and non-root.

FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# better-sqlite3 has no prebuilt binary to download here: it compiles from source.
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# git: the bot keeps repository mirrors and worktrees; bubblewrap and socat: the agent sandbox
# (on by default; the container needs unprivileged user namespaces, e.g. a seccomp profile
# that allows unshare/clone with CLONE_NEWUSER).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates bubblewrap socat \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    DATABASE_URL=/data/doom.db \
    PORT=8080
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
RUN mkdir -p /data && chown node:node /data
# Mirrors and worktrees live under ./data by default; put them on the volume.
RUN sed -i 's#"\./data/#"/data/#' config/doom-rlvr.toml && grep -q '"/data/mirrors"' config/doom-rlvr.toml
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/doom.js", "serve"]
