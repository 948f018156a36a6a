/** `berth htpasswd`, `berth keygen`, and start-up refusing a broken auth config, on each runtime. */
import bcrypt from 'bcryptjs';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startWithConfig } from '../support/auth.ts';
import { testRuntime } from '../support/server.ts';

const root = ((): string => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

function berth(args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const [bin, pre]: [string, string[]] =
    testRuntime === 'bun'
      ? [join(root, 'node_modules/.bin/bun'), ['run', join(root, 'runtimes/bun.ts')]]
      : testRuntime === 'deno'
        ? [join(root, 'node_modules/.bin/deno'), ['run', '-A', '--config', join(root, 'deno.json'), join(root, 'runtimes/deno.ts')]]
        : [process.execPath, [join(root, 'dist/runtimes/node.js')]];
  const r = spawnSync(bin, [...pre, ...args], { input, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('auth helpers of the berth command', () => {
  it('htpasswd prints a bcrypt line for the password on stdin', () => {
    const r = berth(['htpasswd', 'alice', '--cost', '4'], 'correct horse\n');
    expect(r.status).toBe(0);
    const [name, hash = ''] = r.stdout.trim().split(':');
    expect(name).toBe('alice');
    expect(hash).toMatch(/^\$2y\$04\$/);
    expect(bcrypt.compareSync('correct horse', hash)).toBe(true);
    expect(r.stdout).not.toContain('correct horse');
    expect(berth(['htpasswd', 'a:b'], 'x').status).toBe(2);
    expect(berth(['htpasswd', 'alice'], '').status).toBe(2);
  });

  it('keygen prints a PKCS#8 key for the algorithm asked', () => {
    const es = berth(['keygen']);
    expect(es.status).toBe(0);
    expect(createPrivateKey(es.stdout).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const rs = berth(['keygen', '--algorithm', 'RS256']);
    expect(createPrivateKey(rs.stdout).asymmetricKeyType).toBe('rsa');
    expect(berth(['keygen', '--algorithm', 'HS256']).status).toBe(2);
  });

  it('start-up stops with a clear message when the key or htpasswd file is missing', async () => {
    await expect(startWithConfig({ auth: { mode: 'token', token: { key: '/nonexistent/key.pem' } } })).rejects.toThrow(/cannot read token signing key \/nonexistent\/key\.pem/);
    await expect(startWithConfig({ auth: { mode: 'basic', htpasswd: '/nonexistent/htpasswd' } })).rejects.toThrow(/cannot read htpasswd file/);
    await expect(startWithConfig({ auth: { mode: 'basic', users: { a: { password: 'plain' } } } })).rejects.toThrow(/bcrypt hash/);
  });
});
