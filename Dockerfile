# One image for the API and the workers; the compose file picks the command.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund
COPY . .
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/true npm run db:generate
ENV NODE_ENV=production
EXPOSE 3000
CMD ["npx", "tsx", "api/server.ts"]
