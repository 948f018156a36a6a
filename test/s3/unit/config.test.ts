import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../../src/schema.ts';

const MiB = 1024 * 1024;

describe('storage.s3 configuration', () => {
  it('fills in defaults around a bucket', () => {
    expect(parseConfig({ storage: { s3: { bucket: 'my-bucket' } } }).storage).toEqual({
      s3: { bucket: 'my-bucket', prefix: '', forcePathStyle: false, partSize: 8 * MiB, maxAttempts: 5 },
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
    };
    expect(parseConfig({ storage: { s3 } }).storage.s3).toEqual({ ...s3, prefix: 'berth/prod', partSize: 8 * MiB });
  });

  it('keeps local disk the default, and BERTH_DATA setting its root', async () => {
    expect(parseConfig({}).storage).toEqual({ fs: { root: './data' } });
    expect((await loadConfig({ env: { BERTH_DATA: '/srv/x' } })).storage).toEqual({ fs: { root: '/srv/x' } });
  });

  it('uses s3 when it is set, even beside a data directory from the environment or a flag', async () => {
    const config = await loadConfig({
      env: { BERTH_DATA: '/var/lib/berth', BERTH_STORAGE__S3__BUCKET: 'from-env', BERTH_STORAGE__S3__PART_SIZE: '6MiB' },
      overrides: { storage: { fs: { root: '/from/flag' } } },
    });
    expect(config.storage).toEqual({ s3: expect.objectContaining({ bucket: 'from-env', partSize: 6 * MiB }) });
    expect(config.storage.fs).toBeUndefined();
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
