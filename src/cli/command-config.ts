import process from 'node:process';
import { ConfigError, loadConfig, type Config } from '../schema.ts';

/**
 * The configuration an offline command (`gc`, `mirror prefetch`) works on: `--config`, the
 * environment, `--data` over `storage.fs.root`. Undefined, with the reason on stderr, when invalid.
 */
export async function commandConfig(flags: { config?: string | undefined; data?: string | undefined }, env: Record<string, string | undefined>): Promise<Config | undefined> {
  try {
    const overrides = flags.data === undefined ? {} : { storage: { fs: { root: flags.data } } };
    return await loadConfig({ ...(flags.config === undefined ? {} : { file: flags.config }), env, overrides });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`berth: ${e.message}\n`);
    return undefined;
  }
}
