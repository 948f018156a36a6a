import process from 'node:process';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Options } from './schema.ts';

/**
 * Concurrent connections to S3. Every blob GET in flight holds one for as long as its client
 * reads, so the SDK's default of 50 would make the 51st download wait for another to end.
 */
const maxSockets = 512;
/** Milliseconds to open a connection: an endpoint that takes longer is not answering. */
const connectTimeout = 5_000;

/** Builds the SDK client: AWS defaults, plus what S3-compatible stores need and AWS tolerates. */
export function createS3Client(o: S3Options): S3Client {
  // On Node < 22 the SDK prints a multi-line notice about its future Node support to stderr, in the
  // middle of berth's JSON log lines. The SDK's own switch turns it off; berth supports Node 20+.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const agent = { keepAlive: true, maxSockets };
  return new S3Client({
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: o.endpoint,
    forcePathStyle: o.forcePathStyle,
    credentials:
      o.accessKeyId !== undefined && o.secretAccessKey !== undefined
        ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, sessionToken: o.sessionToken }
        : undefined,
    // Throttling (503 SlowDown), 5xx and connection errors are retried with exponential backoff
    // and jitter. Every body we send is a buffer, so a retry can resend it.
    maxAttempts: o.maxAttempts,
    retryMode: 'standard',
    // Newer SDKs add CRC32 checksums to every request and check them on responses; Ceph, MinIO
    // and R2 versions in the field reject or mangle those. Send them only where S3 requires one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK sends `Expect: 100-continue` on bodies of 2 MiB and more (every part), which costs
    // more than it saves. Ceph RGW answers 100 Continue before it checks the quota, then refuses
    // and closes without reading the body: the client's write fails with EPIPE or ECONNRESET,
    // often before it has read the 403 QuotaExceeded, and a full bucket looks like an outage.
    // Without the header RGW reads the body and answers. The SDK also sends such requests on a
    // connection of their own, outside the agent below: a new connection (and TLS handshake) per
    // part, not bounded by maxSockets. A refused write now sends its body first: one part at most.
    expectContinueHeader: false,
    requestHandler: {
      // An endpoint that does not answer fails fast (and is retried) instead of hanging a request.
      connectionTimeout: Math.min(connectTimeout, o.requestTimeout),
      // One attempt ends, and is retried, when S3 has not answered (headers) in this long. The
      // SDK only warns about it unless told to throw.
      requestTimeout: o.requestTimeout,
      throwOnRequestTimeout: true,
      // A connection silent this long is dead; generous, since a paused download is silent too.
      socketTimeout: o.idleTimeout,
      httpAgent: agent,
      httpsAgent: agent,
    },
  });
}
