/**
 * Pull-based response bodies with byte-level fault injection: write size,
 * pacing, stalls and truncation. Private to the testing module.
 *
 * @module
 */

/** Largest chunk handed to the HTTP server when no `chunkSize` is set. */
const DEFAULT_SLICE = 64 * 1024;

/** Waits `ms` milliseconds (forever when not finite), or until `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      if (timer !== undefined) clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    if (Number.isFinite(ms)) {
      timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
    }
  });
}

/** How a body is cut short. */
export interface Truncation {
  /** Byte offset in the body. */
  at: number;
  /** `end`: clean end; `abort`/`reset`: the stream errors. */
  mode: "end" | "abort" | "reset";
}

/** Byte-level behaviour of a paced body. */
export interface PacingOptions {
  /** Maximum bytes per chunk. */
  chunkSize?: number;
  /** Pacing rate. */
  bytesPerSecond?: number;
  /** Where and how to cut the body. */
  truncate?: Truncation;
  /** Where and how long to stop sending. */
  stall?: { at: number; ms: number };
  /** Aborts everything (server close or client gone). */
  signal: AbortSignal;
  /** Called once when the body has finished, failed or been cancelled. */
  onDone?: () => void;
}

/** Turns an async iterable of chunks into a paced, pull-based stream. */
export function pacedStream(
  source: AsyncIterable<Uint8Array>,
  options: PacingOptions,
): ReadableStream<Uint8Array> {
  const local = new AbortController();
  const signal = AbortSignal.any([options.signal, local.signal]);
  const iterator = source[Symbol.asyncIterator]();
  const maxSlice = options.chunkSize ?? DEFAULT_SLICE;
  let pending: Uint8Array | undefined;
  let sent = 0;
  let stalled = false;
  let started = 0;
  let done = false;
  let onServerAbort: (() => void) | undefined;
  const finish = () => {
    if (done) return;
    done = true;
    if (onServerAbort) {
      options.signal.removeEventListener("abort", onServerAbort);
    }
    local.abort(new Error("Body finished"));
    options.onDone?.();
    iterator.return?.().catch(() => {});
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      // Error the body even when no pull is pending (client not reading).
      onServerAbort = () => {
        if (done) return;
        try {
          controller.error(options.signal.reason);
        } catch {
          // Already closed or errored.
        }
        finish();
      };
      if (options.signal.aborted) onServerAbort();
      else options.signal.addEventListener("abort", onServerAbort);
    },
    async pull(controller) {
      try {
        if (started === 0) started = performance.now();
        // Next event offset: stall or truncation.
        const stall = options.stall;
        if (stall && !stalled && sent >= stall.at) {
          stalled = true;
          await sleep(stall.ms, signal);
        }
        const cut = options.truncate;
        if (cut && sent >= cut.at) {
          if (cut.mode === "end") {
            controller.close();
          } else {
            controller.error(
              new Error(
                cut.mode === "reset"
                  ? "Connection reset by the fake server"
                  : "Connection aborted by the fake server",
              ),
            );
          }
          finish();
          return;
        }
        while (!pending || pending.length === 0) {
          const next = await iterator.next();
          if (next.done) {
            controller.close();
            finish();
            return;
          }
          pending = next.value;
        }
        let limit = maxSlice;
        if (stall && !stalled && stall.at > sent) {
          limit = Math.min(limit, stall.at - sent);
        }
        if (cut && cut.at > sent) limit = Math.min(limit, cut.at - sent);
        const slice = pending.subarray(0, limit);
        pending = pending.subarray(slice.length);
        if (options.bytesPerSecond) {
          const due = started +
            ((sent + slice.length) / options.bytesPerSecond) *
              1000;
          const wait = due - performance.now();
          if (wait > 1) await sleep(wait, signal);
        }
        signal.throwIfAborted();
        // Copy: the HTTP server may hold the chunk after we reuse the source.
        controller.enqueue(slice.slice());
        sent += slice.length;
      } catch (error) {
        finish();
        throw error;
      }
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 0 });
}

/** Yields `bytes` as slices of at most `size` bytes (views, no copy). */
export function* slices(
  bytes: Uint8Array,
  size = DEFAULT_SLICE,
): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) {
    yield bytes.subarray(i, Math.min(bytes.length, i + size));
  }
}

/** Yields a file's bytes in chunks; the file is closed when iteration ends. */
export async function* fileChunks(
  path: string,
  size = DEFAULT_SLICE,
): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  while (true) {
    const buf = new Uint8Array(size);
    const n = await file.read(buf);
    if (n === null) return;
    yield buf.subarray(0, n);
  }
}

const BASE64_LINE = 57; // bytes per 76-character line

/** Re-encodes chunks as base64, optionally as CRLF-terminated 76-char lines. */
export async function* base64Chunks(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  lines: boolean,
  newline = "\r\n",
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const unit = lines ? BASE64_LINE : 3;
  let carry = new Uint8Array(0);
  const encode = (bytes: Uint8Array): Uint8Array => {
    if (!lines) return encoder.encode(toBase64(bytes));
    let out = "";
    for (let i = 0; i < bytes.length; i += BASE64_LINE) {
      out += toBase64(bytes.subarray(i, i + BASE64_LINE)) + newline;
    }
    return encoder.encode(out);
  };
  for await (const chunk of source) {
    const all = new Uint8Array(carry.length + chunk.length);
    all.set(carry);
    all.set(chunk, carry.length);
    const whole = all.length - (all.length % unit);
    if (whole > 0) yield encode(all.subarray(0, whole));
    carry = all.slice(whole);
  }
  if (carry.length > 0) yield encode(carry);
}

/** Base64 of a byte array. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
