import { describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/oci/digest.ts';
import { parseManifest } from '../../src/oci/manifest.ts';
import { acceptsManifest, mediaTypes, namedManifestTypes } from '../../src/oci/media-types.ts';

const digestOf = (c: string): string => `sha256:${c.repeat(64)}`;
const descriptor = (mediaType: string, c: string, size = 10, extra: object = {}) => ({ mediaType, digest: digestOf(c), size, ...extra });

const ociConfig = 'application/vnd.oci.image.config.v1+json';
const ociLayer = 'application/vnd.oci.image.layer.v1.tar+gzip';
const dockerConfig = 'application/vnd.docker.container.image.v1+json';
const dockerLayer = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const ociImage = (extra: object = {}) => ({
  schemaVersion: 2,
  mediaType: mediaTypes.ociManifest,
  config: descriptor(ociConfig, 'c', 5),
  layers: [descriptor(ociLayer, 'a', 100), descriptor(ociLayer, 'b', 200)],
  ...extra,
});
const ociIndex = (extra: object = {}) => ({
  schemaVersion: 2,
  mediaType: mediaTypes.ociIndex,
  manifests: [descriptor(mediaTypes.ociManifest, 'd', 300), descriptor(mediaTypes.ociManifest, 'e', 400)],
  ...extra,
});

const bytes = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc));
const parse = (doc: unknown, contentType?: string) => parseManifest(bytes(doc), contentType);
const blob = (c: string, size: number) => ({ digest: parseDigest(digestOf(c)), size });

describe('parseManifest', () => {
  it('reads an OCI image manifest: config and layers are the blobs it needs', () => {
    const info = parse(ociImage(), mediaTypes.ociManifest);
    expect(info.mediaType).toBe(mediaTypes.ociManifest);
    expect(info.kind).toBe('image');
    expect(info.blobs).toEqual([blob('c', 5), blob('a', 100), blob('b', 200)]);
    expect(info.manifests).toEqual([]);
    expect(info.subject).toBeUndefined();
    expect(info.annotations).toBeUndefined();
  });

  it('leaves out non-distributable layers (with urls), but keeps a layer with an empty urls list', () => {
    const info = parse(
      ociImage({
        layers: [
          descriptor(ociLayer, 'a', 100, { urls: ['https://example.com/layer'] }),
          descriptor(ociLayer, 'b', 200),
          descriptor(ociLayer, 'f', 300, { urls: [] }),
        ],
      }),
    );
    expect(info.blobs).toEqual([blob('c', 5), blob('b', 200), blob('f', 300)]);
  });

  it('takes the media type from the body when there is no Content-Type', () => {
    expect(parse(ociImage()).mediaType).toBe(mediaTypes.ociManifest);
    expect(parse(ociIndex()).mediaType).toBe(mediaTypes.ociIndex);
  });

  it('takes the media type from Content-Type when the body has none', () => {
    const { mediaType: _, ...doc } = ociIndex();
    const info = parse(doc, mediaTypes.ociIndex);
    expect(info.mediaType).toBe(mediaTypes.ociIndex);
    expect(info.kind).toBe('index');
  });

  it('reads an OCI index: the manifests it lists, no blobs', () => {
    const info = parse(ociIndex(), mediaTypes.ociIndex);
    expect(info.kind).toBe('index');
    expect(info.manifests).toEqual([blob('d', 300), blob('e', 400)]);
    expect(info.blobs).toEqual([]);
  });

  it('reads a Docker schema 2 manifest', () => {
    const doc = {
      schemaVersion: 2,
      mediaType: mediaTypes.dockerManifest,
      config: descriptor(dockerConfig, 'c', 7),
      layers: [descriptor(dockerLayer, 'a', 11)],
    };
    const info = parse(doc, mediaTypes.dockerManifest);
    expect(info.mediaType).toBe(mediaTypes.dockerManifest);
    expect(info.kind).toBe('image');
    expect(info.blobs).toEqual([blob('c', 7), blob('a', 11)]);
  });

  it('reads a Docker manifest list', () => {
    const doc = {
      schemaVersion: 2,
      mediaType: mediaTypes.dockerManifestList,
      manifests: [descriptor(mediaTypes.dockerManifest, 'd', 3, { platform: { os: 'linux', architecture: 'amd64' } })],
    };
    const info = parse(doc, mediaTypes.dockerManifestList);
    expect(info.mediaType).toBe(mediaTypes.dockerManifestList);
    expect(info.kind).toBe('index');
    expect(info.manifests).toEqual([blob('d', 3)]);
  });

  it('takes artifactType from the field, else from the config media type', () => {
    expect(parse(ociImage({ artifactType: 'application/vnd.example.sbom' })).artifactType).toBe('application/vnd.example.sbom');
    expect(parse(ociImage()).artifactType).toBe(ociConfig);
    expect(parse(ociIndex({ artifactType: 'application/vnd.example.set' })).artifactType).toBe('application/vnd.example.set');
    expect(parse(ociIndex()).artifactType).toBeUndefined();
  });

  it('accepts pretty-printed JSON with any key order and surrounding whitespace, as tools push it', () => {
    const { layers, config, ...rest } = ociImage();
    const info = parseManifest(new TextEncoder().encode(`\n\t ${JSON.stringify({ layers, ...rest, config }, null, 3)}\r\n `), undefined);
    expect(info.blobs).toEqual([blob('c', 5), blob('a', 100), blob('b', 200)]);
  });

  it('parses the subject and the annotations', () => {
    const subject = descriptor(mediaTypes.ociManifest, '9', 42);
    const annotations = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', empty: '' };
    const info = parse(ociImage({ subject, annotations }));
    expect(info.subject).toMatchObject({ ...subject, parsed: parseDigest(subject.digest) });
    expect(info.annotations).toEqual(annotations);
    expect(parse(ociIndex({ subject })).subject?.parsed).toEqual(parseDigest(subject.digest));
  });

  describe('rejects as MANIFEST_INVALID (400)', () => {
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    const invalidUtf8 = new Uint8Array([...text('{"schemaVersion":2,"x":"'), 0xff, 0xfe, ...text('"}')]);
    const { schemaVersion: _, ...noSchemaVersion } = ociImage();
    const layerWith = (layer: unknown) => ociImage({ layers: [layer] });
    const { mediaType: __, ...layerWithoutMediaType } = descriptor(ociLayer, 'a');
    const { digest: ___, ...layerWithoutDigest } = descriptor(ociLayer, 'a');

    it.each<[string, Uint8Array, string | undefined]>([
      ['invalid JSON', text('{"schemaVersion":2,'), undefined],
      ['invalid UTF-8', invalidUtf8, undefined],
      ['an empty body', new Uint8Array(0), undefined],
      ['a JSON array', bytes([ociImage()]), undefined],
      ['a JSON string', bytes('manifest'), undefined],
      ['JSON null', bytes(null), undefined],
      ['schemaVersion 1', bytes(ociImage({ schemaVersion: 1 })), undefined],
      ['schemaVersion "2"', bytes(ociImage({ schemaVersion: '2' })), undefined],
      ['a missing schemaVersion', bytes(noSchemaVersion), undefined],
      ['Content-Type naming another manifest type than the body', bytes(ociImage()), mediaTypes.dockerManifest],
      ['Content-Type of an index for an image body', bytes(ociImage()), mediaTypes.ociIndex],
      ['an unknown media type in the body', bytes(ociImage({ mediaType: 'application/vnd.example.thing+json' })), undefined],
      ['a config media type as the manifest type', bytes(ociImage({ mediaType: ociConfig })), undefined],
      ['a schema 1 media type', bytes(ociImage({ mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' })), undefined],
      ['a non-string mediaType', bytes(ociImage({ mediaType: 2 })), undefined],
      ['a non-string artifactType', bytes(ociImage({ artifactType: 7 })), undefined],
      ['a missing config', bytes(ociImage({ config: undefined })), undefined],
      ['layers that are not an array', bytes(ociImage({ layers: {} })), undefined],
      ['a Docker manifest without layers', bytes(ociImage({ mediaType: mediaTypes.dockerManifest, layers: undefined })), undefined],
      ['an index without manifests', bytes(ociIndex({ manifests: undefined })), undefined],
      ['a negative size', bytes(layerWith(descriptor(ociLayer, 'a', -1))), undefined],
      ['a fractional size', bytes(layerWith(descriptor(ociLayer, 'a', 1.5))), undefined],
      ['a string size', bytes(layerWith(descriptor(ociLayer, 'a', '10' as unknown as number))), undefined],
      ['an unsafe integer size', bytes(layerWith(descriptor(ociLayer, 'a', 2 ** 53))), undefined],
      ['a malformed digest', bytes(layerWith({ ...descriptor(ociLayer, 'a'), digest: 'sha256:xyz' })), undefined],
      ['an unsupported digest algorithm', bytes(layerWith({ ...descriptor(ociLayer, 'a'), digest: `md5:${'a'.repeat(32)}` })), undefined],
      ['a missing digest', bytes(layerWith(layerWithoutDigest)), undefined],
      ['a missing descriptor mediaType', bytes(layerWith(layerWithoutMediaType)), undefined],
      ['an empty descriptor mediaType', bytes(layerWith(descriptor('', 'a'))), undefined],
      ['a descriptor that is not an object', bytes(layerWith('sha256:abc')), undefined],
      ['urls that are not strings', bytes(layerWith(descriptor(ociLayer, 'a', 1, { urls: [1] }))), undefined],
      ['a bad descriptor in an index', bytes(ociIndex({ manifests: [descriptor(mediaTypes.ociManifest, 'd', -5)] })), undefined],
      ['a bad subject', bytes(ociImage({ subject: { ...descriptor(mediaTypes.ociManifest, '9'), digest: 'sha256:1' } })), undefined],
      ['non-string annotation values', bytes(ociImage({ annotations: { a: 1 } })), undefined],
      ['annotations as an array', bytes(ociImage({ annotations: ['a'] })), undefined],
      ['non-string descriptor annotations', bytes(layerWith(descriptor(ociLayer, 'a', 1, { annotations: { a: true } }))), undefined],
      // JSON that Go and Rust clients cannot read back (src/oci/strict-json.ts).
      ['a UTF-8 byte order mark before the JSON', new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(ociImage())]), undefined],
      ['a UTF-16 byte order mark', new Uint8Array([0xff, 0xfe, ...bytes(ociImage())]), undefined],
      ['a repeated key', text(`{"schemaVersion":2,"mediaType":"${mediaTypes.ociManifest}","config":${JSON.stringify(descriptor(ociConfig, 'c'))},"layers":[],"layers":[]}`), undefined],
      ['a repeated key inside a descriptor', text(JSON.stringify(ociImage()).replace('"size":5', '"size":5,"size":6')), undefined],
      ['trailing garbage after the object', text(`${JSON.stringify(ociImage())} x`), undefined],
      ['a second JSON document after the first', text(`${JSON.stringify(ociImage())}{}`), undefined],
    ])('%s', (_, body, contentType) => {
      expect(() => parseManifest(body, contentType)).toThrow(
        expect.objectContaining({ name: 'OciError', code: 'MANIFEST_INVALID', status: 400 }),
      );
    });
  });
});

describe('acceptsManifest', () => {
  const oci = mediaTypes.ociManifest;
  const dockerOnly = `${mediaTypes.dockerManifest}, ${mediaTypes.dockerManifestList}`;

  it.each<[string, string | undefined, string, boolean]>([
    ['no header', undefined, oci, true],
    ['an empty header', '', oci, true],
    ['*/*', '*/*', oci, true],
    ['application/*', 'application/*', oci, true],
    ['the exact type', oci, oci, true],
    ['the type among others', `${mediaTypes.dockerManifest}, ${oci}`, oci, true],
    ['the type with a q parameter', `${oci};q=0.5`, oci, true],
    ['the type with spaces and a parameter', `  ${oci} ; q=0.9 ,${mediaTypes.dockerManifest}`, oci, true],
    ['the type in another case', oci.toUpperCase(), oci, true],
    ['a wildcard with a parameter', `${mediaTypes.dockerManifest}, */*;q=0.1`, oci, true],
    ['only Docker types, for an OCI manifest', dockerOnly, oci, false],
    ['only Docker types with parameters, for an OCI manifest', `${mediaTypes.dockerManifest};q=0.9`, oci, false],
    ['only the OCI index, for an OCI manifest', mediaTypes.ociIndex, oci, false],
    ['only Docker types, for a Docker manifest', dockerOnly, mediaTypes.dockerManifest, true],
    ['only application/json', 'application/json', oci, true],
    ['application/json beside a Docker type', `application/json, ${mediaTypes.dockerManifest}`, oci, false],
    ['another top-level wildcard', 'text/*', oci, true],
  ])('%s', (_, accept, mediaType, expected) => {
    expect(acceptsManifest(accept, mediaType)).toBe(expected);
  });
});

describe('namedManifestTypes', () => {
  it.each<[string, string | undefined, string[]]>([
    ['no header', undefined, []],
    ['wildcards and other types only', '*/*, application/json', []],
    ['one type with a parameter', `${mediaTypes.dockerManifest}; q=0.9`, [mediaTypes.dockerManifest]],
    [
      'several, in the header\'s order, once each, in any case',
      `${mediaTypes.ociIndex.toUpperCase()}, application/json, ${mediaTypes.dockerManifest},${mediaTypes.ociIndex}`,
      [mediaTypes.ociIndex, mediaTypes.dockerManifest],
    ],
    ['a type berth does not store', 'application/vnd.docker.distribution.manifest.v1+prettyjws', []],
  ])('%s', (_, accept, expected) => {
    expect(namedManifestTypes(accept)).toEqual(expected);
  });
});
