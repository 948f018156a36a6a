import { rm } from 'node:fs/promises';
import { defineConfig } from 'rolldown';

/**
 * `berth` on Node as a handful of files instead of ~300 modules (issue 15): tsc builds dist/ (the
 * library, the tests' and the bench's imports); this then writes dist/runtimes/node.js, the
 * command (`npm start`, the image, the tests' servers), over tsc's, with what it loads in
 * dist/runtimes/chunks/. Against tsc's output: ~5 MiB less idle RSS (zod's 40 locales and what
 * else nobody calls are left out, one module record instead of hundreds) and a faster start-up
 * (bench/README.md, "Idle memory and start-up on Node").
 *
 * Packages loaded only by the configurations that use them stay outside (S3, the mirror's HTTP
 * client, Redis, token signing, bcrypt, YAML): they are imported from node_modules when used, as
 * test/unit/lazy-loading.test.ts checks. Identifiers are not mangled, so stacks stay readable.
 * ASCII only: V8 keeps a module's source in memory, two bytes a character if one is not Latin-1.
 */
const out = 'dist/runtimes';
await rm(`${out}/chunks`, { recursive: true, force: true });

export default defineConfig({
  input: {
    node: 'runtimes/node.ts',
    // src/auth/passwords.ts starts it from next to itself, which is in chunks/.
    'chunks/bcrypt-worker': 'src/auth/bcrypt-worker.ts',
  },
  platform: 'node',
  external: [/^node:/, /^@aws-sdk\//, 'undici', 'ioredis', 'jose', 'bcryptjs', 'yaml'],
  output: {
    dir: out,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name].js',
    sourcemap: true,
    minify: { compress: true, mangle: false, codegen: { removeWhitespace: true, asciiOnly: true } },
  },
});
