# One image for the API, the workers and the migrations; the compose file picks the command.
# Two stages: the build stage has the dev dependencies, compiles TypeScript to dist/ and bundles
# the workflow code (npm run build); the runtime stage has the production dependencies only (what
# dist/ requires), runs as the unprivileged `node` user, and starts plain JavaScript
# (`node dist/...`). .dockerignore keeps .env, .git, .data/ and host node_modules out of the build.

FROM node:22.23.5-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile exactly, or the build fails.
RUN npm ci --no-audit --no-fund
COPY . .
# Any executable keeps Prisma's CLI from downloading an engine `generate` does not need.
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/true npm run build

FROM node:22.23.5-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# dist/ holds the programs, the dashboard, the SQL migrations and the prebuilt workflow bundles.
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# The API's liveness (the workers and the one-shot jobs get their own checks in docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/api/server.js"]
