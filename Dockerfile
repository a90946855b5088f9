# One image for every Usher process (`usher broker`, `usher media`, `usher token`): compiled
# JavaScript and production dependencies only. docs/DEPLOY.md has its size.

# Build stage: every dependency, then the web app (Vite) and the server (tsc → dist/app),
# then drop the dev dependencies so node_modules is the runtime's.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Vite 8 needs npm ≥ 11 to install (node:20 ships npm 10).
RUN npm install -g npm@11 && npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: no TypeScript, no tsx, no dev dependencies.
FROM node:20-bookworm-slim AS runtime
# openssl: the compose file's one-shot tls-init service makes a dev certificate with it.
RUN apt-get update && apt-get install -y --no-install-recommends openssl \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
# dist/app is laid out like the repository (bin/, server/, shared/, web/sdk/), so the
# compiled code finds bin/usher.mjs and dist/web where the sources do.
COPY --from=build /src/dist/app/bin ./bin
COPY --from=build /src/dist/app/server ./server
COPY --from=build /src/dist/app/shared ./shared
COPY --from=build /src/dist/app/web ./web
COPY --from=build /src/dist/web ./dist/web
COPY deploy/compose/make-dev-cert.sh ./deploy/compose/make-dev-cert.sh
# The Kubernetes preStop hook of media servers (deploy/kubernetes/media.yaml).
COPY deploy/prestop-drain.mjs ./deploy/prestop-drain.mjs
USER node
# Brokers listen on 8080 (USHER_PORT), media servers on 8101 (USHER_MEDIA_PORT).
EXPOSE 8080 8101
# Liveness of either process: /healthz on its own port (media servers set USHER_MEDIA_PORT).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const p=process.env.USHER_MEDIA_PORT||process.env.USHER_PORT||8080;fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/usher.mjs"]
CMD ["--help"]
