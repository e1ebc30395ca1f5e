FROM node:20-slim
WORKDIR /app

COPY package*.json ./
# The lock file points msgpackr's optional native add-on at a local stub (see package.json overrides).
COPY scripts/stubs ./scripts/stubs
RUN npm ci

COPY . .
RUN npm run build && npm prune --omit=dev

ENV NODE_ENV=production
# Buffers of 128 KiB or more get their own mapping, returned to the system when freed (src/shared/node-flags.ts).
ENV MALLOC_MMAP_THRESHOLD_=131072
EXPOSE 3000
CMD ["sh", "-c", "exec node --max-old-space-size=${NODE_HEAP_MB:-128} --max-semi-space-size=8 dist/main.js"]
