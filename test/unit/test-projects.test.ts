/**
 * Each test file runs where it belongs: a test that starts berth runs once per runtime (and says
 * which in its failures); a test that runs in this process runs once, in `unit` — running it three
 * times would only pretend to test three runtimes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** The CLI's own tests run `node dist/runtimes/node.js` by design: once, in `unit`, even where they start a server. */
const cliTests = /^test\/cli\//;

/** What starts a berth process (or a stack around one) in the test support. */
const startsBerth = /\b(startServer|startServerOn|startS3Server|startWithConfig|startMirrorStack|startStack|startFleet)\(/;

async function testFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.test.ts')).map((e) => relative(root, join(e.parentPath, e.name)));
}

it('runs in-process tests once and server tests per runtime, every test file somewhere', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-projects-'));
  try {
    const out = join(dir, 'list.json');
    await promisify(execFile)(join(root, 'node_modules/.bin/vitest'), ['list', '--filesOnly', `--json=${out}`], {
      cwd: root,
      env: { ...process.env, TEST_RUNTIMES: 'node', TEST_CONCURRENCY_RUNTIMES: 'node' },
    });
    const listed = JSON.parse(await readFile(out, 'utf8')) as Array<{ file: string; projectName: string }>;
    const projectsOf = new Map<string, Set<string>>();
    for (const { file, projectName } of listed) {
      const key = relative(root, file);
      projectsOf.set(key, (projectsOf.get(key) ?? new Set()).add(projectName));
    }
    const misplaced: string[] = [];
    for (const file of await testFiles('test')) {
      const projects = [...(projectsOf.get(file) ?? [])];
      const server = !cliTests.test(file) && startsBerth.test(await readFile(join(root, file), 'utf8'));
      const where = server ? projects.includes('node') && !projects.includes('unit') : projects.length === 1 && projects[0] === 'unit';
      if (!where) misplaced.push(`${file} (${server ? 'starts berth' : 'in-process'}): in [${projects.join(', ')}]`);
    }
    expect(misplaced).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
