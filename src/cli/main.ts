import process from 'node:process';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../schema.ts';
import { createRegistry } from '../index.ts';
import { createLogger, errorFields } from '../observability/log.ts';
import { metricsApp } from '../observability/metrics-endpoint.ts';
import type { RunningServer, Runtime } from '../runtime/contract.ts';
import { connectionLimits, formatAddress, parseListen } from './server.ts';
import { packageVersion } from './version.ts';

/** SIGINT and SIGTERM through node:process (Node and Bun; Deno has its own signal API). */
export function onProcessSignals(handler: (signal: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => handler(signal));
}

/**
 * The other commands' modules are imported when they run (or for this text): `serve` would
 * otherwise hold bcrypt, token keys and the YAML writer in memory for nothing (issue 15: idle RSS).
 */
async function usage(): Promise<string> {
  const [auth, gc, retention, mirror, config] = await Promise.all([
    import('../auth/cli.ts'),
    import('./gc.ts'),
    import('./retention.ts'),
    import('./mirror.ts'),
    import('./config-check.ts'),
  ]);
  return `usage: berth <command> [options]

commands:
  serve     run the registry
    --config FILE        YAML configuration file (env BERTH_CONFIG)
    --listen HOST:PORT   listen address, default 0.0.0.0:5000 (env BERTH_LISTEN)
    --data DIR           local storage directory, default ./data (env BERTH_DATA)
${auth.authUsage}${gc.gcUsage}${retention.retentionUsage}${mirror.mirrorUsage}${config.configUsage}  version   print berth's version (also --version)
  help      show this text
`;
}

/** Runs the `berth` command; returns once the server stops, with the exit code. */
export async function runCli(argv: string[], runtime: Runtime): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(await usage());
    return command === undefined ? 2 : 0;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`berth ${await packageVersion()}\n`);
    return 0;
  }
  if (command === 'htpasswd' || command === 'keygen') return (await import('../auth/cli.ts')).runAuthCommand(command, rest);
  if (command === 'gc') return (await import('./gc.ts')).runGc(rest, runtime.env);
  if (command === 'retention') return (await import('./retention.ts')).runRetention(rest, runtime.env);
  if (command === 'config') return (await import('./config-check.ts')).runConfigCheck(rest, runtime.env);
  if (command === 'mirror') return (await import('./mirror.ts')).runMirrorCommand(rest, runtime.env);
  if (command !== 'serve') {
    process.stderr.write(`berth: unknown command "${command}"\n\n${await usage()}`);
    return 2;
  }
  let flags;
  try {
    flags = parseArgs({
      args: rest,
      options: { config: { type: 'string' }, listen: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`berth serve: ${e instanceof Error ? e.message : String(e)}\n\n${await usage()}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(await usage());
    return 0;
  }
  const overrides: Record<string, unknown> = {};
  if (flags.listen !== undefined) overrides.listen = flags.listen;
  if (flags.data !== undefined) overrides.storage = { fs: { root: flags.data } };
  let config;
  try {
    config = await loadConfig({ ...(flags.config === undefined ? {} : { file: flags.config }), env: runtime.env, overrides });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`berth: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const logger = createLogger(config.log.level);
  const limits = connectionLimits(config);
  const berth = await createRegistry(config, { logger, runtime });
  try {
    await berth.ready;
  } catch (e) {
    process.stderr.write(`berth: storage ${berth.storage} is not usable: ${e instanceof Error ? e.message : String(e)}\n`);
    await berth.close();
    return 1;
  }
  let server;
  try {
    server = await runtime.serve(berth.app, { ...parseListen(config.listen), limits, logger });
  } catch (e) {
    process.stderr.write(`berth: cannot listen on ${config.listen}: ${e instanceof Error ? e.message : String(e)}\n`);
    await berth.close();
    return 1;
  }
  let metricsServer: RunningServer | undefined;
  if (config.metrics.enabled && config.metrics.listen !== undefined) {
    try {
      metricsServer = await runtime.serve(metricsApp(berth.metrics, config.metrics.token), { ...parseListen(config.metrics.listen), limits, logger });
    } catch (e) {
      process.stderr.write(`berth: cannot listen on ${config.metrics.listen} (metrics.listen): ${e instanceof Error ? e.message : String(e)}\n`);
      await server.close();
      await berth.close();
      return 1;
    }
    logger.info('metrics listening', { url: `${formatAddress(metricsServer.address)}/metrics` });
  }
  logger.info('listening', { url: formatAddress(server.address), runtime: runtime.name, version: await packageVersion(), storage: berth.storage });
  await new Promise<void>((resolve) => {
    runtime.onSignal((signal) => {
      logger.info('shutting down', { signal });
      void metricsServer?.close();
      server
        .close()
        .then(() => berth.close())
        .catch((e: unknown) => logger.error('shutdown failed', errorFields(e)))
        .finally(resolve);
    });
  });
  return 0;
}
