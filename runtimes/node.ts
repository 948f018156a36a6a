#!/usr/bin/env node
import { createAdaptorServer } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { runCli, type Runtime } from '../src/cli/main.ts';
import type { Serve } from '../src/cli/server.ts';

/** In-flight requests get this long to finish after SIGTERM before their sockets are closed. */
const drainMs = 10_000;

const serve: Serve = (app, { hostname, port }) =>
  new Promise((resolve, reject) => {
    const server = createAdaptorServer({ fetch: app.fetch });
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({
        address: { hostname, port: address.port },
        close: () =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => {
              if ('closeAllConnections' in server) server.closeAllConnections();
            }, drainMs);
            timer.unref();
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            if ('closeIdleConnections' in server) server.closeIdleConnections();
          }),
      });
    });
  });

const runtime: Runtime = {
  name: 'node',
  serve,
  env: process.env,
  onSignal: (handler) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => handler(signal));
  },
};

process.exitCode = await runCli(process.argv.slice(2), runtime);
