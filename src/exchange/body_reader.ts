/**
 * Reads a response body in batches: BYOB reads into one reusable buffer,
 * gathered up to a target before they are handed on (fewer scans and
 * copies), but handed on at once when the network has no more ready (a
 * short read), so latency-bound transfers are not delayed.
 *
 * @module
 */

import type { ExchangeWatchdog } from "./watchdog.ts";

const READ_SIZE = 1 << 20;
/** Gather reads up to this many bytes before handing them on. */
const FILL_TARGET = 512 * 1024;
/** A read this long means more data was probably ready at once. */
const FULL_READ = 64 * 1024;

/**
 * Yields the body in batches. Each batch is a view of a buffer that is
 * reused for the next one: consume it before asking for the next.
 *
 * @param body The response body.
 * @param watchdog Types transport failures and notes activity.
 * @returns The batches; the reader is cancelled and released at the end.
 */
export async function* readBodyBatches(
  body: ReadableStream<Uint8Array>,
  watchdog: ExchangeWatchdog,
): AsyncGenerator<Uint8Array, void, undefined> {
  let reader:
    | ReadableStreamBYOBReader
    | ReadableStreamDefaultReader<Uint8Array>;
  let byob = true;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    reader = body.getReader();
    byob = false;
  }
  let buffer: ArrayBuffer = new ArrayBuffer(READ_SIZE);
  try {
    for (let ended = false; !ended;) {
      if (!byob) {
        const r = await watchdog.read(
          (reader as ReadableStreamDefaultReader<Uint8Array>).read(),
        );
        if (r.done) return;
        watchdog.progress(r.value.length);
        yield r.value;
        continue;
      }
      let filled = 0;
      while (filled < FILL_TARGET) {
        const r = await watchdog.read(
          (reader as ReadableStreamBYOBReader).read(
            new Uint8Array(buffer, filled, READ_SIZE - filled),
          ),
        );
        if (r.done) {
          ended = true;
          if (r.value) buffer = r.value.buffer as ArrayBuffer;
          break;
        }
        buffer = r.value.buffer as ArrayBuffer;
        filled += r.value.length;
        watchdog.progress(r.value.length);
        if (r.value.length < FULL_READ) break;
      }
      if (filled === 0) return;
      yield new Uint8Array(buffer, 0, filled);
    }
  } finally {
    watchdog.pause();
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
