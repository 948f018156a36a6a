/**
 * A request body that fails when its sender falls silent. The clock runs only while a read is
 * waiting for bytes: when berth itself is slow to read (a busy disk, a slow S3 part), the client
 * is held back by backpressure and that time is not counted against it. So an upload that keeps
 * sending, however slowly and for however long, is never cut; one that stops is, after `ms`.
 *
 * For the runtimes that give no such limit of their own (runtimes/bun.ts, runtimes/deno.ts): they
 * hand the app a request whose body is this stream, and close the connection in `onSilence`.
 *
 * The stream is a byte stream, so a BYOB reader (batched-body.ts) still reads the runtime's bytes
 * into its own buffer without a copy when the runtime's stream supports that.
 */
export function silenceLimited(body: ReadableStream<Uint8Array>, ms: number, onSilence: () => void): ReadableStream<Uint8Array> {
  let byob: ReadableStreamBYOBReader | undefined;
  let plain: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    plain = body.getReader();
  }
  const source = (byob ?? plain)!;

  /** The read's result, or a rejection once it has waited `ms` for the sender. */
  const heard = <T>(read: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silence = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Errors this stream (pull rejects), never a clean end: a cut body must not pass for a short one.
        reject(new BodySilenceError(ms));
        void source.cancel().catch(() => undefined);
        onSilence();
      }, ms);
    });
    return Promise.race([read, silence]).finally(() => clearTimeout(timer));
  };

  const bytes: UnderlyingByteSource = {
    type: 'bytes',
    // With a BYOB source every read goes straight into the consumer's buffer (or one of this size).
    ...(byob ? { autoAllocateChunkSize: 64 * 1024 } : {}),
    async pull(controller: ReadableByteStreamController) {
      const request = controller.byobRequest;
      if (byob && request?.view) {
        const view = request.view;
        const { done, value } = await heard(byob.read(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)));
        // The source's read took over the consumer's buffer; its bytes come back over `value`.
        if (done) {
          controller.close();
          if (value) request.respondWithNewView(value as Uint8Array<ArrayBuffer>);
          else request.respond(0);
          return;
        }
        request.respondWithNewView(value as Uint8Array<ArrayBuffer>);
        return;
      }
      for (;;) {
        const { done, value } = await heard(plain!.read());
        if (done) {
          controller.close();
          request?.respond(0);
          return;
        }
        // A byte stream takes no empty chunks; some runtimes hand them out (Deno, for an empty body).
        if (value.byteLength === 0) continue;
        controller.enqueue(value as Uint8Array<ArrayBuffer>);
        return;
      }
    },
    cancel: (reason) => source.cancel(reason),
  };
  return new ReadableStream(bytes);
}

/** A request body whose sender sent nothing for the configured time (server.bodyIdleTimeout). */
export class BodySilenceError extends Error {
  readonly code = 'BODY_SILENCE';
  constructor(ms: number) {
    super(`request body: nothing received for ${ms} ms`);
  }
}

/**
 * `request` with its body under `silenceLimited`, or `request` itself when it has no body or
 * `ms` is 0. Rebuilt from its parts, so nothing else of the original is read.
 */
export function withSilenceLimit(request: Request, ms: number, onSilence: () => void): Request {
  if (!request.body || ms <= 0) return request;
  const body = silenceLimited(request.body, ms, onSilence);
  return new Request(request.url, { method: request.method, headers: request.headers, body, duplex: 'half' } as RequestInit);
}
