# berth, an OCI registry. One image per runtime:
#   docker build -t berth .                      (Node, the default target)
#   docker build --target bun -t berth:bun .
#   docker build --target deno -t berth:deno .
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth berth
# Configuration: BERTH_* environment variables, or mount a YAML file and set BERTH_CONFIG.

# --- build: compile TypeScript for Node, and collect production dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json rolldown.config.ts ./
RUN npm install --ignore-scripts --no-audit --no-fund
COPY src ./src
COPY runtimes ./runtimes
COPY conformance ./conformance
COPY bench ./bench
COPY test/support ./test/support
RUN npm run build && npm prune --omit=dev --ignore-scripts

# --- bun: runs the TypeScript sources directly ---
FROM oven/bun:1.4.5-slim AS bun
ENV BERTH_LISTEN=0.0.0.0:5000 BERTH_DATA=/var/lib/berth
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/src ./src
COPY --from=build /src/runtimes ./runtimes
RUN mkdir -p /var/lib/berth && chown bun:bun /var/lib/berth
USER bun
VOLUME /var/lib/berth
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD ["bun", "-e", "fetch('http://127.0.0.1:5000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["bun", "run", "runtimes/bun.ts"]
CMD ["serve"]

# --- deno: runs the TypeScript sources directly ---
FROM denoland/deno:2.9.6 AS deno
ENV BERTH_LISTEN=0.0.0.0:5000 BERTH_DATA=/var/lib/berth
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/src ./src
COPY --from=build /src/runtimes ./runtimes
COPY deno.json ./
RUN mkdir -p /var/lib/berth && chown deno:deno /var/lib/berth
USER deno
VOLUME /var/lib/berth
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD ["deno", "eval", "fetch('http://127.0.0.1:5000/healthz').then(r=>Deno.exit(r.ok?0:1),()=>Deno.exit(1))"]
ENTRYPOINT ["deno", "run", "-A", "runtimes/deno.ts"]
CMD ["serve"]

# --- node (default): the compiled JavaScript ---
FROM node:20-bookworm-slim AS node
ENV NODE_ENV=production BERTH_LISTEN=0.0.0.0:5000 BERTH_DATA=/var/lib/berth
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/runtimes ./dist/runtimes
RUN mkdir -p /var/lib/berth && chown node:node /var/lib/berth
USER node
VOLUME /var/lib/berth
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:5000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/runtimes/node.js"]
CMD ["serve"]
