import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

/** Bytes per read: 1 MiB halves the CPU per GiB against 64 KiB (PERF-NOTES.md). */
const chunkBytes = 1 << 20;

/**
 * Sends bytes `start`..`end` (inclusive) of an open file into a response through two 1 MiB
 * buffers used in turn: one is read into while the other is being written. A buffer is read into
 * again only once its write has completed, which is also the backpressure.
 *
 * Why not `createReadStream(...).pipe(res)`: it allocates a fresh 1 MiB buffer per read, 1,024 per
 * GiB, all memory outside V8's heap that V8 still counts; past a limit it sets from the external
 * memory alive at its last full collection, it runs a full mark-compact per ~64 MiB allocated. A
 * process whose last collection happened at idle took 13–34 of them during one 1 GiB GET and sent
 * at a third of the speed of one that took none (bench/README.md, "Node's bimodal blob GET").
 *
 * Resolves when the last byte was handed to the socket and the response ended, or when the
 * response closed early (client gone); rejects on a read error or a short file, having destroyed
 * the response so the client sees a cut body, not a wrong one. Closes nothing: the caller owns
 * the file handle.
 */
export async function sendFileRange(file: FileHandle, out: ServerResponse, start: number, end: number): Promise<void> {
  // Closing the response (the client gone, the socket destroyed) wakes any wait: a write whose
  // callback never comes must not hold the loop, the buffers and the file handle.
  let closed = false;
  let wake: (() => void) | undefined;
  const onClose = (): void => {
    closed = true;
    wake?.();
  };
  out.once('close', onClose);
  const size = Math.min(chunkBytes, end - start + 1);
  const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
  // Each buffer's write in flight; settles with the write's error, never rejects (nothing is left unhandled).
  const writing: Array<Promise<Error | undefined> | undefined> = [undefined, undefined];
  const done = async (i: number): Promise<void> => {
    const w = writing[i];
    if (!w || closed) return;
    const err = await new Promise<Error | undefined>((resolve) => {
      wake = () => resolve(undefined);
      void w.then(resolve);
    });
    if (err && !closed) throw err;
  };
  try {
    let position = start;
    for (let i = 0; position <= end; i ^= 1) {
      await done(i);
      if (closed) return;
      const buffer = buffers[i]!;
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, end - position + 1), position);
      if (bytesRead === 0) throw new Error('file ended before the range did');
      if (closed) return;
      writing[i] = new Promise((resolve) => out.write(buffer.subarray(0, bytesRead), (err) => resolve(err ?? undefined)));
      position += bytesRead;
    }
    await done(0);
    await done(1);
    if (!closed) out.end();
  } catch (err) {
    out.destroy();
    if (!closed) throw err;
  } finally {
    out.off('close', onClose);
  }
}
