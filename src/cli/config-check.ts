import process from 'node:process';
import { stringify } from 'yaml';
import { formatDuration, millis } from '../config/duration.ts';
import { mapKinds } from '../config/kinds.ts';
import { resolveAgainst } from '../config/path.ts';
import { formatSize } from '../config/size.ts';
import { ConfigError, configSchema, loadConfig, type Config } from '../schema.ts';

export const configUsage = `  config check FILE   validate a configuration file and print the effective configuration
                      (file + BERTH_* environment + defaults), secrets masked
`;

// Values under these keys are credentials: printed as "***" so the output can be pasted anywhere.
const secretKey = /(password|secret|token|sessiontoken|secretaccesskey)$/i;
// Every value under these keys may be one (an API key in `otel.headers`).
const secretMap = /headers$/i;

/** A deep copy with every string under a secret-looking key replaced. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return secretKey.test(key) ? '***' : value;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, secretMap.test(key) ? 'secret' : k)]));
  }
  return value;
}

/**
 * The configuration with durations and sizes written as a person writes them (`24h`, `64MiB`) and
 * every path absolute (a relative one is the working directory's), so it can be pasted anywhere.
 */
export function readable(config: Config): unknown {
  return mapKinds(configSchema, config, (kind, value) => {
    if (typeof value === 'string' && (kind === 'path' || kind === 'path-or-url')) return resolveAgainst(process.cwd(), value, kind === 'path-or-url');
    if (typeof value !== 'number') return value;
    if (kind === 'duration') return formatDuration(millis(value));
    if (kind === 'size') return formatSize(value);
    return value;
  });
}

/** `berth config check FILE`: exit 0 and the effective config, or exit 2 and what is wrong. */
export async function runConfigCheck(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [sub, file, ...rest] = args;
  if (sub !== 'check' || file === undefined || rest.length > 0) {
    process.stderr.write(`usage: berth config check FILE\n`);
    return 2;
  }
  try {
    const config = await loadConfig({ file, env });
    process.stdout.write(`# ${file}: valid\n${stringify(maskSecrets(readable(config)))}`);
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`berth: ${e.message}\n`);
    return 2;
  }
}
