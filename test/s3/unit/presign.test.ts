/**
 * The URLs `storage.s3.redirect` hands out, as a client receives them: which host, which object,
 * how long, and that nothing secret is in them. Signing is local, so no store is needed here;
 * test/s3/redirect.test.ts has RGW accept them.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/schema.ts';
import { S3Driver } from '../../../src/storage/s3/driver.ts';

const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const key = 'blobs/sha256/ab/abcdef0123456789';

function driver(redirect: Record<string, unknown>, extra: Record<string, unknown> = {}): S3Driver {
  const s3 = parseConfig({
    storage: {
      s3: {
        bucket: 'registry',
        prefix: 'berth',
        endpoint: 'http://rgw.internal:7480',
        forcePathStyle: true,
        region: 'eu-west-1',
        accessKeyId: 'AKIAEXAMPLE',
        secretAccessKey: secret,
        redirect,
        ...extra,
      },
    },
  }).storage.s3!;
  return new S3Driver(s3);
}

async function urlOf(d: S3Driver, k = key): Promise<URL> {
  if (!d.url) throw new Error('the driver offers no URLs');
  const url = new URL(await d.url(k));
  d.close();
  return url;
}

describe('presigned blob URLs (storage.s3.redirect)', () => {
  it('offers none unless redirects are enabled', () => {
    const d = driver({});
    expect(d.url).toBeUndefined();
    d.close();
  });

  it('signs a GET of exactly that object on the store, for the configured time, with no secret in it', async () => {
    const url = await urlOf(driver({ enabled: true, expiry: '90s' }));
    expect(url.origin).toBe('http://rgw.internal:7480');
    expect(url.pathname).toBe(`/registry/berth/${key}`);
    const q = url.searchParams;
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Expires')).toBe('90');
    expect(q.get('X-Amz-Credential')).toMatch(/^AKIAEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(q.get('response-content-type')).toBe('application/octet-stream');
    expect(url.href).not.toContain(secret);
    expect(url.href).not.toContain(encodeURIComponent(secret));
    expect(q.has('X-Amz-Security-Token')).toBe(false);
  });

  it('signs for the public endpoint when one is set, and names no internal host', async () => {
    const url = await urlOf(driver({ enabled: true, endpoint: 'https://s3.example.com' }));
    expect(url.origin).toBe('https://s3.example.com');
    expect(url.pathname).toBe(`/registry/berth/${key}`);
    expect(url.href).not.toContain('rgw.internal');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('1200');
  });

  it('puts the signed path and query under a base URL (a CDN), which may have a path of its own', async () => {
    const d = driver({ enabled: true, baseUrl: 'https://cdn.example.com/edge/' });
    const url = await urlOf(d);
    expect(url.origin).toBe('https://cdn.example.com');
    expect(url.pathname).toBe(`/edge/registry/berth/${key}`);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(url.href).not.toContain('rgw.internal');
  });

  it('carries the session token of temporary credentials, which S3 needs to check the signature', async () => {
    const url = await urlOf(driver({ enabled: true }, { sessionToken: 'FwoGZXIvYXdzEXAMPLE' }));
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('FwoGZXIvYXdzEXAMPLE');
    expect(url.href).not.toContain(secret);
  });

  it('refuses a key outside the driver’s rules, as every other operation does', async () => {
    const d = driver({ enabled: true });
    await expect(d.url!('../other-bucket/x')).rejects.toMatchObject({ name: 'StorageError', kind: 'invalid' });
    d.close();
  });
});
