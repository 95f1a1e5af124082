/**
 * Splitter benchmarks (issue 3, benchmarks 2 and 3): split an in-memory
 * multipart body of 256 MiB (512 KiB parts, fed in 5 MiB chunks) with parts
 * delivered as owned `Uint8Array`s. Contenders, all in the same group:
 *
 * - a plain `Uint8Array.set` copy of the same chunks into one preallocated
 *   buffer (the baseline: one pass over the bytes);
 * - `Uint8Array.slice` of every part at known offsets (the least any splitter
 *   delivering owned parts must do: allocate and copy);
 * - `MultipartParser` with the WASM engine and with the TS engine;
 * - `MultipartSplitter` (the TransformStream) with the WASM engine;
 * - `npm:@remix-run/multipart-parser` (`part.bytes` for an owned copy), as
 *   is (it keeps views of the caller's chunks until `part.bytes` copies
 *   them), and with each chunk copied first (what a caller that reuses its
 *   read buffer, like the client's BYOB reader, has to do for it).
 *
 * Group 2 splits 12-bit-pixel-like payloads; group 3 payloads made of
 * near-miss delimiters (a prefix of 4 to len-1 bytes of the delimiter, over
 * and over).
 *
 *   deno bench --allow-env --v8-flags=--expose-gc bench/split_bench.ts
 *
 * With `--expose-gc`, a full garbage collection runs before each timed
 * iteration (outside the timing), so that no contender pays for the garbage
 * of the one before it; each still pays for the collections its own
 * allocations cause.
 *
 * SPLIT_BENCH_MIB overrides the body size (default 256).
 *
 * @module
 */

import {
  MultipartParser as RemixParser,
} from "npm:@remix-run/multipart-parser@0.16.3";
import { MultipartParser } from "../src/multipart/multipart_parser.ts";
import {
  MultipartEventSplitter,
  MultipartSplitter,
} from "../src/multipart/multipart_splitter.ts";

const MIB = 1 << 20;
/** `gc()` when run with `--v8-flags=--expose-gc`. */
const gc = (globalThis as { gc?: () => void }).gc;
const PART = 512 * 1024;
const CHUNK = 5 * MIB;
const encoder = new TextEncoder();

/** The body size in bytes (SPLIT_BENCH_MIB, default 256 MiB). */
function bodySize(): number {
  let mib = 256;
  try {
    const env = Deno.env.get("SPLIT_BENCH_MIB");
    if (env) mib = Number(env);
  } catch {
    // No --allow-env: keep the default.
  }
  return mib * MIB;
}

/** A CXF (dcm4chee-arc) boundary. */
const BOUNDARY = "uuid:0ca0e5a3-1fb1-4ab0-9a4f-77c2a0f6c1b5";
const DELIMITER = encoder.encode(`\r\n--${BOUNDARY}`);

/** xorshift32 words. */
function fillRandom(out: Uint32Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
}

/** 12-bit pixels: little-endian uint16 values below 4096. */
function pixelPayload(out: Uint8Array, seed: number): void {
  const words = new Uint32Array(out.length >>> 2);
  fillRandom(words, seed);
  for (let i = 0; i < words.length; i++) words[i]! &= 0x0FFF0FFF;
  out.set(new Uint8Array(words.buffer));
}

/** Near-miss delimiters: prefixes of 4..len-1 bytes, back to back. */
function nearMissPayload(out: Uint8Array, seed: number): void {
  let x = seed >>> 0;
  for (let at = 0; at < out.length;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const cut = 4 + (x >>> 16) % (DELIMITER.length - 4);
    const piece = DELIMITER.subarray(0, Math.min(cut, out.length - at));
    out.set(piece, at);
    at += piece.length;
  }
}

/**
 * Near-miss delimiters: the whole delimiter with one byte (after its
 * leading CRLF) replaced, back to back.
 */
function oneOffPayload(out: Uint8Array, seed: number): void {
  let x = seed >>> 0;
  const m = DELIMITER.length;
  for (let at = 0; at < out.length; at += m) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const piece = DELIMITER.slice(0, Math.min(m, out.length - at));
    const k = 2 + (x >>> 16) % (m - 2);
    if (k < piece.length) piece[k] = 0x58 + (x & 1); // "X" or "Y"
    out.set(piece, at);
  }
}

/** A multipart body of `count` parts of PART bytes, and the part offsets. */
function buildBody(
  count: number,
  fill: (out: Uint8Array, seed: number) => void,
): { body: Uint8Array; offsets: number[] } {
  const heads = Array.from({ length: count }, (_, i) =>
    encoder.encode(
      `${i === 0 ? "" : "\r\n"}--${BOUNDARY}\r\n` +
        `Content-Type: application/dicom\r\n` +
        `Content-Transfer-Encoding: binary\r\n` +
        `Content-ID: <uuid-${i}@urn:ihe:iti:xds-b:2007>\r\n\r\n`,
    ));
  const close = encoder.encode(`\r\n--${BOUNDARY}--\r\n`);
  const size = heads.reduce((n, h) => n + h.length + PART, close.length);
  const body = new Uint8Array(size);
  const offsets: number[] = [];
  let at = 0;
  for (const [i, head] of heads.entries()) {
    body.set(head, at);
    at += head.length;
    offsets.push(at);
    fill(body.subarray(at, at + PART), 0x9E3779B9 + i);
    at += PART;
  }
  body.set(close, at);
  return { body, offsets };
}

/** The 5 MiB chunks of a body (views). */
function chunksOf(body: Uint8Array, size = CHUNK): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += size) {
    // Owned chunks, as a fetch body gives them.
    out.push(body.slice(at, at + size));
  }
  return out;
}

/** Checks what a contender delivered: every part, of the right size. */
function check(name: string, count: number, bytes: number, want: number) {
  if (count !== want || bytes !== want * PART) {
    throw new Error(
      `Benchmark "${name}" delivered ${count} parts of ${bytes} bytes: expected ${want} parts of ${
        want * PART
      }`,
    );
  }
}

function splitWith(engine: "wasm" | "ts", chunks: Uint8Array[]): number[] {
  using parser = new MultipartParser(BOUNDARY, { engine });
  let count = 0;
  let bytes = 0;
  const onPart = (part: { body: Uint8Array }) => {
    count++;
    bytes += part.body.length;
  };
  for (const chunk of chunks) parser.push(chunk, onPart);
  parser.finish();
  return [count, bytes];
}

async function splitStream(chunks: Uint8Array[]): Promise<number[]> {
  let count = 0;
  let bytes = 0;
  const parts = ReadableStream.from(chunks).pipeThrough(
    new MultipartSplitter(BOUNDARY, { engine: "wasm" }),
  );
  for await (const part of parts) {
    count++;
    bytes += part.body.length;
  }
  return [count, bytes];
}

/** The event stream, as the client reads an answer: pieces, not parts. */
async function splitEvents(chunks: Uint8Array[]): Promise<number[]> {
  let count = 0;
  let bytes = 0;
  const events = ReadableStream.from(chunks).pipeThrough(
    new MultipartEventSplitter(BOUNDARY, { engine: "wasm" }),
  );
  for await (const event of events) {
    if (event.kind === "body") bytes += event.bytes.length;
    else if (event.kind === "end") count++;
  }
  return [count, bytes];
}

/** The same pieces from a hand loop over the parser (no stream). */
function splitPieces(chunks: Uint8Array[]): number[] {
  using parser = new MultipartParser(BOUNDARY, { engine: "wasm" });
  let count = 0;
  let bytes = 0;
  const handler = {
    head: () => {},
    body: (piece: Uint8Array) => bytes += piece.length,
    end: () => count++,
  };
  for (const chunk of chunks) parser.pushPieces(chunk, handler, true);
  parser.finish();
  return [count, bytes];
}

/**
 * The hand loop the client had before (issue 10): reads gathered into one
 * reused 1 MiB buffer up to 512 KiB (a BYOB reader's copy), pushed to the
 * parser, each part sliced whole out of the window.
 */
function splitBatched(chunks: Uint8Array[]): number[] {
  using parser = new MultipartParser(BOUNDARY, { engine: "wasm" });
  const batch = new Uint8Array(MIB);
  let filled = 0;
  let count = 0;
  let bytes = 0;
  const onPart = (part: { body: Uint8Array }) => {
    count++;
    bytes += part.body.length;
  };
  for (const chunk of chunks) {
    batch.set(chunk, filled);
    filled += chunk.length;
    if (filled >= 512 * 1024) {
      parser.push(batch.subarray(0, filled), onPart);
      filled = 0;
    }
  }
  if (filled > 0) parser.push(batch.subarray(0, filled), onPart);
  parser.finish();
  return [count, bytes];
}

function splitRemix(chunks: Uint8Array[], copyChunks = false): number[] {
  const parser = new RemixParser(BOUNDARY, {
    maxHeaderSize: 16384,
    maxFileSize: Infinity,
    maxParts: Infinity,
    maxTotalSize: Infinity,
  });
  let count = 0;
  let bytes = 0;
  for (const chunk of chunks) {
    // The remix parser keeps views of the chunks it is given: a caller that
    // reuses its read buffer (a BYOB reader) must hand it copies.
    for (const part of parser.write(copyChunks ? chunk.slice() : chunk)) {
      count++;
      bytes += part.bytes.length; // An owned copy, like the others.
    }
  }
  parser.finish();
  return [count, bytes];
}

function register(
  group: string,
  fill: (out: Uint8Array, seed: number) => void,
  chunkSize = CHUNK,
): void {
  const count = Math.max(1, Math.floor(bodySize() / PART));
  const { body, offsets } = buildBody(count, fill);
  const chunks = chunksOf(body, chunkSize);
  if (chunkSize !== CHUNK) return registerPath(group, body, chunks, count);
  const label = `${Math.round(body.length / MIB)} MiB`;
  const dst = new Uint8Array(body.length);
  // Check every contender once before timing.
  check("wasm", ...splitWith("wasm", chunks) as [number, number], count);
  check("ts", ...splitWith("ts", chunks) as [number, number], count);
  check("remix", ...splitRemix(chunks) as [number, number], count);
  const bench = (
    name: string,
    fn: () => void | Promise<void>,
    baseline = false,
  ) =>
    Deno.bench({
      name: `${name}, ${label}`,
      group,
      baseline,
      n: 10,
      warmup: 2,
      async fn(b): Promise<void> {
        // Collect the previous contender's garbage outside the timing.
        gc?.();
        b.start();
        await fn();
        b.end();
      },
    });
  bench("copy: Uint8Array.set of the chunks", () => {
    let at = 0;
    for (const chunk of chunks) {
      dst.set(chunk, at);
      at += chunk.length;
    }
  }, true);
  bench("slice parts at known offsets", () => {
    let bytes = 0;
    for (const offset of offsets) {
      bytes += body.slice(offset, offset + PART).length;
    }
    check("slice", offsets.length, bytes, count);
  });
  bench("wasm splitter (MultipartParser)", () => {
    check("wasm", ...splitWith("wasm", chunks) as [number, number], count);
  });
  bench("ts splitter (MultipartParser)", () => {
    check("ts", ...splitWith("ts", chunks) as [number, number], count);
  });
  bench("wasm splitter (MultipartSplitter stream)", async () => {
    check("stream", ...(await splitStream(chunks)) as [number, number], count);
  });
  bench("npm:@remix-run/multipart-parser", () => {
    check("remix", ...splitRemix(chunks) as [number, number], count);
  });
  bench("npm:@remix-run/multipart-parser, chunks copied first", () => {
    check("remix", ...splitRemix(chunks, true) as [number, number], count);
  });
}

/**
 * Group 4: the client's path, in the 64 KiB chunks a fetch body gives: the
 * event stream it reads every answer through, against the same parser
 * driven by hand (pieces, no stream) and the hand loop it had before.
 */
function registerPath(
  group: string,
  body: Uint8Array,
  chunks: Uint8Array[],
  count: number,
): void {
  const label = `${Math.round(body.length / MIB)} MiB`;
  const dst = new Uint8Array(body.length);
  const bench = (
    name: string,
    fn: () => void | Promise<void>,
    baseline = false,
  ) =>
    Deno.bench({
      name: `${name}, ${label}`,
      group,
      baseline,
      n: 10,
      warmup: 2,
      async fn(b): Promise<void> {
        gc?.();
        b.start();
        await fn();
        b.end();
      },
    });
  bench("copy: Uint8Array.set of the chunks", () => {
    let at = 0;
    for (const chunk of chunks) {
      dst.set(chunk, at);
      at += chunk.length;
    }
  }, true);
  bench("hand loop before: 512 KiB batches, whole parts (push)", () => {
    check("batched", ...splitBatched(chunks) as [number, number], count);
  });
  bench("hand loop: pushPieces per chunk (no stream)", () => {
    check("pieces", ...splitPieces(chunks) as [number, number], count);
  });
  bench("MultipartEventSplitter stream (the client's path)", async () => {
    check("events", ...(await splitEvents(chunks)) as [number, number], count);
  });
  bench("MultipartSplitter stream (whole parts)", async () => {
    check("stream", ...(await splitStream(chunks)) as [number, number], count);
  });
}

register("2: split, 12-bit pixel parts of 512 KiB, 5 MiB chunks", pixelPayload);
register(
  "4: the client's path, 12-bit pixel parts of 512 KiB, 64 KiB chunks",
  pixelPayload,
  64 * 1024,
);
register(
  "3: split, near-miss delimiters (prefixes of 4..44 bytes), 5 MiB chunks",
  nearMissPayload,
);
register(
  "3b: split, near-miss delimiters (one byte off, every 45 bytes), 5 MiB chunks",
  oneOffPayload,
);
