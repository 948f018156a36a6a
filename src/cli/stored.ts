import process from 'node:process';
import type { Config } from '../schema.ts';
import { commandConfig } from './command-config.ts';
import { StoredRegistry } from '../registry/registry.ts';
import { createStorage } from '../storage/create.ts';

/** The configured storage opened for a maintenance command, without the server's cache: another process may be writing. */
export interface Opened {
  config: Config;
  stored: StoredRegistry;
  close(): void;
}

/**
 * Reads the configuration (file, environment, `--data`) and opens its storage for `berth <command>`;
 * on a bad configuration or unusable storage, says why on stderr and gives the exit code instead.
 */
export async function openStorage(command: string, flags: { config?: string | undefined; data?: string | undefined }, env: Record<string, string | undefined>): Promise<Opened | number> {
  const config = await commandConfig(flags, env);
  if (!config) return 2;
  const storage = await createStorage(config.storage);
  try {
    await storage.ready;
  } catch (e) {
    process.stderr.write(`berth ${command}: storage ${storage.describe} is not usable: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  return { config, stored: new StoredRegistry(storage.driver), close: () => storage.close() };
}
