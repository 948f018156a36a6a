import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../../src/schema.ts';

const MiB = 1024 * 1024;
/** The timeouts every S3 configuration gets unless it says otherwise, in milliseconds. */
const timeouts = { requestTimeout: 15_000, totalTimeout: 45_000, idleTimeout: 120_000 };
/** Blob GETs stream through berth unless redirects are asked for; a URL lives 20 minutes (distribution's). */
const redirect = { enabled: false, expiry: 1_200_000 };

describe('storage.s3 configuration', () => {
  it('fills in defaults around a bucket', () => {
    expect(parseConfig({ storage: { s3: { bucket: 'my-bucket' } } }).storage).toEqual({
      s3: { bucket: 'my-bucket', prefix: '', forcePathStyle: false, partSize: 8 * MiB, maxAttempts: 5, ...timeouts, redirect },
    });
  });

  it('reads every setting, sizes with units, and trims the prefix of slashes', () => {
    const s3 = {
      bucket: 'b.example',
      prefix: '/berth/prod/',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      accessKeyId: 'AKIA',
      secretAccessKey: 'secret',
      partSize: '8MiB',
      maxAttempts: 3,
      requestTimeout: '2500ms',
      totalTimeout: 20,
      idleTimeout: '5m',
      redirect: { enabled: true, expiry: '1h', baseUrl: 'https://cdn.example.com/registry' },
    };
    expect(parseConfig({ storage: { s3 } }).storage.s3).toEqual({
      ...s3,
      prefix: 'berth/prod',
      partSize: 8 * MiB,
      requestTimeout: 2500,
      totalTimeout: 20_000,
      idleTimeout: 300_000,
      redirect: { enabled: true, expiry: 3_600_000, baseUrl: 'https://cdn.example.com/registry' },
    });
  });

  it('keeps local disk the default, flushed and with a 1 GiB floor, and BERTH_DATA setting its root', async () => {
    const fs = { fsync: true, minFreeSpace: 1024 * MiB };
    expect(parseConfig({}).storage).toEqual({ fs: { root: './data', ...fs } });
    expect((await loadConfig({ env: { BERTH_DATA: '/srv/x' } })).storage).toEqual({ fs: { root: '/srv/x', ...fs } });
    const set = await loadConfig({ env: { BERTH_DATA: '/srv/x', BERTH_STORAGE__FS__FSYNC: 'false', BERTH_STORAGE__FS__MIN_FREE_SPACE: '0' } });
    expect(set.storage).toEqual({ fs: { root: '/srv/x', fsync: false, minFreeSpace: 0 } });
  });

  it('reads a parsed configuration handed back as it is (durations are not read twice)', () => {
    const once = parseConfig({ storage: { s3: { bucket: 'b-1', requestTimeout: '1s' } } });
    expect(parseConfig(once).storage.s3?.requestTimeout).toBe(1000);
  });

  it('uses s3 when it is set, even beside a data directory from the environment or a flag', async () => {
    const config = await loadConfig({
      env: { BERTH_DATA: '/var/lib/berth', BERTH_STORAGE__S3__BUCKET: 'from-env', BERTH_STORAGE__S3__PART_SIZE: '6MiB' },
      overrides: { storage: { fs: { root: '/from/flag' } } },
    });
    expect(config.storage).toEqual({ s3: expect.objectContaining({ bucket: 'from-env', partSize: 6 * MiB }) });
    expect(config.storage.fs).toBeUndefined();
  });

  it('turns redirects on from the environment, with a public endpoint', async () => {
    const config = await loadConfig({
      env: {
        BERTH_STORAGE__S3__BUCKET: 'b-1',
        BERTH_STORAGE__S3__REDIRECT__ENABLED: 'true',
        BERTH_STORAGE__S3__REDIRECT__EXPIRY: '90s',
        BERTH_STORAGE__S3__REDIRECT__ENDPOINT: 'https://s3.example.com',
      },
    });
    expect(config.storage.s3?.redirect).toEqual({ enabled: true, expiry: 90_000, endpoint: 'https://s3.example.com' });
  });

  it.each([
    ['a part size under 5 MiB', { bucket: 'b-1', partSize: '4MiB' }, /storage\.s3\.partSize.*5MiB/],
    ['a part size over 5 GiB', { bucket: 'b-1', partSize: '6GiB' }, /storage\.s3\.partSize/],
    ['a bucket name S3 refuses', { bucket: 'Bad_Bucket' }, /storage\.s3\.bucket/],
    ['no bucket', {}, /storage\.s3\.bucket/],
    ['a key id without its secret', { bucket: 'b-1', accessKeyId: 'AKIA' }, /accessKeyId and secretAccessKey/],
    ['an endpoint that is no http URL', { bucket: 'b-1', endpoint: 'ftp://x' }, /storage\.s3\.endpoint/],
    ['a prefix with .. in it', { bucket: 'b-1', prefix: 'a/../b' }, /storage\.s3\.prefix/],
    ['an unknown key', { bucket: 'b-1', bukket: 'x' }, /bukket/],
    ['a request timeout of 0', { bucket: 'b-1', requestTimeout: 0 }, /storage\.s3\.requestTimeout/],
    ['a total timeout shorter than one attempt', { bucket: 'b-1', requestTimeout: '30s', totalTimeout: '10s' }, /storage\.s3\.totalTimeout.*at least requestTimeout/],
    ['a timeout that is no duration', { bucket: 'b-1', idleTimeout: 'soon' }, /storage\.s3\.idleTimeout/],
    ['a redirect expiry past the 7 days a signature may live', { bucket: 'b-1', redirect: { expiry: '8d' } }, /storage\.s3\.redirect\.expiry.*7d/],
    ['a redirect expiry under a second', { bucket: 'b-1', redirect: { expiry: '500ms' } }, /storage\.s3\.redirect\.expiry/],
    ['a redirect base URL that is no http URL', { bucket: 'b-1', redirect: { baseUrl: 'cdn.example.com' } }, /storage\.s3\.redirect\.baseUrl/],
    ['both a public endpoint and a base URL', { bucket: 'b-1', redirect: { endpoint: 'https://a.example', baseUrl: 'https://b.example' } }, /storage\.s3\.redirect\.baseUrl.*exclude/],
    ['an unknown redirect key', { bucket: 'b-1', redirect: { enable: true } }, /enable/],
  ])('rejects %s, naming the key', (_, s3, message) => {
    let error: unknown;
    try {
      parseConfig({ storage: { s3 } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
