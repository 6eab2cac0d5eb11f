# One image for the API, the workers and the migrations; the compose file picks the command.
# Two stages: the build stage has the dev dependencies and compiles TypeScript to dist/
# (npm run build); the runtime stage has production dependencies only, runs as the
# unprivileged `node` user, and starts plain JavaScript (`node dist/...`), no tsx.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci from the lockfile; npm install when a mirror's lockfile metadata trips ci (see README).
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund
COPY . .
# Any executable keeps Prisma's CLI from downloading an engine `generate` does not need.
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/true npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN (npm ci --omit=dev --no-audit --no-fund || npm install --omit=dev --no-audit --no-fund) && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
CMD ["node", "dist/api/server.js"]
