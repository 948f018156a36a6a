/** `berth htpasswd` and `berth keygen`: the two helpers an operator needs to turn auth on. */
import bcrypt from 'bcryptjs';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { generateKeyPem } from './keys.ts';
import { signingAlgorithms, type SigningAlgorithm } from './schema.ts';

export const authUsage = `  htpasswd  print an htpasswd line (bcrypt) for a user: berth htpasswd NAME < password-file
    --cost N             bcrypt cost, default 12
  keygen    print a new token signing key (PKCS#8 PEM) for auth.token.key
    --algorithm ALG      ES256 (default), ES384 or RS256
`;

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Runs `htpasswd` or `keygen`; returns the exit code. */
export async function runAuthCommand(command: 'htpasswd' | 'keygen', args: string[]): Promise<number> {
  try {
    if (command === 'keygen') {
      const { values } = parseArgs({ args, options: { algorithm: { type: 'string', default: 'ES256' } }, strict: true });
      const alg = values.algorithm as SigningAlgorithm;
      if (!signingAlgorithms.includes(alg)) throw new Error(`--algorithm must be one of ${signingAlgorithms.join(', ')}`);
      process.stdout.write(await generateKeyPem(alg));
      return 0;
    }
    const { values, positionals } = parseArgs({ args, options: { cost: { type: 'string', default: '12' } }, strict: true, allowPositionals: true });
    const [name] = positionals;
    const cost = Number(values.cost);
    if (name === undefined || positionals.length !== 1 || !/^[^:\s]{1,128}$/.test(name)) throw new Error('give one user name, without ":" or spaces');
    if (!Number.isInteger(cost) || cost < 4 || cost > 31) throw new Error('--cost must be an integer from 4 to 31');
    if (process.stdin.isTTY) process.stderr.write('password (then Enter and Ctrl-D): ');
    // Only the line break that ends the input is dropped; the password is taken as typed.
    const password = (await readStdin()).replace(/\r?\n$/, '');
    if (password === '') throw new Error('empty password on stdin');
    // $2y$ is what Apache's htpasswd -B writes; the algorithm is bcryptjs's $2b$.
    const hash = (await bcrypt.hash(password, cost)).replace(/^\$2b\$/, '$2y$');
    process.stdout.write(`${name}:${hash}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`berth ${command}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}
