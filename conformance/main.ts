import { parseArgs } from 'node:util';
import { formatSummary, runConformance } from './suite.ts';

const USAGE = `usage: node dist/conformance/main.js --url http://127.0.0.1:PORT [options]

  --url URL               registry root (env OCI_ROOT_URL)
  --namespace NAME        repository prefix for everything pushed (env OCI_NAMESPACE;
                          default conformance/<random>)
  --cross-namespace NAME  prefix of the source repositories for cross-repository mounts
                          (env OCI_CROSSMOUNT_NAMESPACE; default: the namespace)
  --user U, --password P  credentials for Basic or Bearer token auth (env OCI_USERNAME, OCI_PASSWORD)
  --timeout MS            per-request timeout in milliseconds (default 30000)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      namespace: { type: 'string' },
      'cross-namespace': { type: 'string' },
      user: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const env = process.env;
  const url = values.url ?? env['OCI_ROOT_URL'];
  if (!url) {
    console.error(`missing --url (or OCI_ROOT_URL)\n\n${USAGE}`);
    return 2;
  }
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    console.error(`--timeout must be a positive number of milliseconds, got "${values.timeout}"`);
    return 2;
  }
  const summary = await runConformance({
    url,
    namespace: values.namespace ?? env['OCI_NAMESPACE'],
    crossNamespace: values['cross-namespace'] ?? env['OCI_CROSSMOUNT_NAMESPACE'],
    username: values.user ?? values.username ?? env['OCI_USERNAME'],
    password: values.password ?? env['OCI_PASSWORD'],
    requestTimeoutMs: timeout,
    log: (line) => console.log(line),
  });
  console.log(formatSummary(summary));
  return summary.failed > 0 ? 1 : 0;
}

// `… | head` closes stdout early; stop quietly instead of crashing on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  },
);
