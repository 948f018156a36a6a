// A library user of berth, run as its own process by test/ops/lifecycle.test.ts on each runtime:
// createRegistry with the mirror, gc and mirror retention on, one pull through the mirror, every
// maintenance pass run at least once, then close(). After that nothing may keep the process alive.
// Usage: <runtime> library-close.mjs <berth module URL> <upstream URL> <data directory>
import process from 'node:process';

const [moduleUrl, upstream, data] = process.argv.slice(2);
const { createRegistry } = await import(moduleUrl);
const seen = new Set();
const logger = {
  debug() {},
  info: (msg) => seen.add(msg),
  warn: (msg, fields) => process.stderr.write(`${msg} ${JSON.stringify(fields)}\n`),
  error: (msg, fields) => process.stderr.write(`${msg} ${JSON.stringify(fields)}\n`),
};
const berth = await createRegistry(
  {
    storage: { fs: { root: data } },
    gc: { interval: '1s', grace: '0s' },
    mirror: { upstreams: [{ name: 'up', url: upstream, prefix: 'up' }], retention: { maxAge: '1h', interval: 1 } },
  },
  { logger },
);
await berth.ready;
const res = await berth.app.fetch(
  new Request('http://berth.test/v2/up/lib/app/manifests/v1', { headers: { Accept: 'application/vnd.oci.image.index.v1+json' } }),
);
const pulled = (await res.arrayBuffer()).byteLength;
for (let i = 0; i < 300 && !(seen.has('garbage collected') && seen.has('mirror retention sweep')); i++) {
  await new Promise((r) => setTimeout(r, 100));
}
await berth.close();
process.stdout.write(`${JSON.stringify({ status: res.status, pulled, ran: [...seen].sort() })}\n`);
