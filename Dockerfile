# berth: an OCI registry. Build: docker build -t berth .   Run: docker run -p 5000:5000 -v berth:/var/lib/berth berth
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci
COPY src ./src
COPY runtimes ./runtimes
COPY conformance ./conformance
COPY bench ./bench
COPY test/support ./test/support
RUN npm run build && npm prune --omit=dev

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
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:5000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/runtimes/node.js"]
CMD ["serve"]
