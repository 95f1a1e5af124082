/**
 * What the `TransformStream` face of the splitter costs on the client's
 * path (issue 10, item 3): 256 MiB of 512 KiB parts in the 64 KiB owned
 * chunks a fetch body gives, split
 *
 * - by `MultipartParser.pushPieces()` in a hand loop (no stream),
 * - through `MultipartEventSplitter` (what every answer is read through),
 *   with `for await` and with a reader loop (as the client reads it),
 * - by the hand loop the client had before: chunks gathered into a reused
 *   1 MiB buffer up to 512 KiB (a BYOB reader's copy), `push()`, each part
 *   sliced whole out of the window.
 *
 * Contenders run interleaved, 9 times per round, 2 rounds; medians.
 *
 *   deno run bench/stream_overhead.ts
 *
 * @module
 */

import { MultipartParser } from "../src/multipart/multipart_parser.ts";
import { MultipartEventSplitter } from "../src/multipart/multipart_splitter.ts";

const BOUNDARY = "uuid:0ca0e5a3-1fb1-4ab0-9a4f-77c2a0f6c1b5";
const PART = 512 * 1024;
const PARTS = 512;
const enc = new TextEncoder();

function buildChunks(): Uint8Array[] {
  const body = new Uint8Array(PARTS * (PART + 200) + 100);
  let at = 0;
  for (let i = 0; i < PARTS; i++) {
    const head = enc.encode(
      `\r\n--${BOUNDARY}\r\nContent-ID: <${i}>\r\n\r\n`,
    );
    body.set(head, at);
    at += head.length;
    for (let j = 0; j < PART; j++) body[at + j] = (j * 13 + i) & 0xff;
    at += PART;
  }
  const tail = enc.encode(`\r\n--${BOUNDARY}--`);
  body.set(tail, at);
  at += tail.length;
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < at; i += 65536) {
    chunks.push(body.slice(i, Math.min(at, i + 65536)));
  }
  return chunks;
}

const chunks = buildChunks();

const contenders: [string, () => number | Promise<number>][] = [
  ["hand loop: pushPieces per chunk (no stream)", () => {
    using parser = new MultipartParser(BOUNDARY);
    let bytes = 0;
    const handler = {
      head() {},
      body(piece: Uint8Array) {
        bytes += piece.length;
      },
      end() {},
    };
    for (const chunk of chunks) parser.pushPieces(chunk, handler, true);
    parser.finish();
    return bytes;
  }],
  ["MultipartEventSplitter, for await", async () => {
    let bytes = 0;
    const events = ReadableStream.from(chunks).pipeThrough(
      new MultipartEventSplitter(BOUNDARY),
    );
    for await (const event of events) {
      if (event.kind === "body") bytes += event.bytes.length;
    }
    return bytes;
  }],
  ["MultipartEventSplitter, reader loop (the client's path)", async () => {
    let bytes = 0;
    const reader = ReadableStream.from(chunks).pipeThrough(
      new MultipartEventSplitter(BOUNDARY),
    ).getReader();
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      if (next.value.kind === "body") bytes += next.value.bytes.length;
    }
    return bytes;
  }],
  ["hand loop before: 512 KiB batches, whole parts (push)", () => {
    using parser = new MultipartParser(BOUNDARY);
    const batch = new Uint8Array(1 << 20);
    let filled = 0;
    let bytes = 0;
    const onPart = (part: { body: Uint8Array }) => bytes += part.body.length;
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
    return bytes;
  }],
];

const times = new Map(contenders.map(([name]) => [name, [] as number[]]));
for (let round = 0; round < 2 * 9 + 1; round++) {
  for (const [name, fn] of contenders) {
    const start = performance.now();
    const bytes = await fn();
    const ms = performance.now() - start;
    if (bytes !== PARTS * PART) throw new Error(`${name}: ${bytes} bytes`);
    if (round > 0) times.get(name)!.push(ms);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const base = median(times.get(contenders[0]![0])!);
// deno-lint-ignore no-console
console.log(
  "| contender (256 MiB, 64 KiB chunks) | median ms | vs hand loop |",
);
// deno-lint-ignore no-console
console.log("| --- | --- | --- |");
for (const [name] of contenders) {
  const m = median(times.get(name)!);
  // deno-lint-ignore no-console
  console.log(`| ${name} | ${m.toFixed(1)} | ${(base / m).toFixed(2)}× |`);
}
