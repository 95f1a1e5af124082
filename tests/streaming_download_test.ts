/**
 * Downloads write from the stream: an instance larger than the splitter's
 * window and than the in-memory cap of datasets() is written to disk
 * byte-exact, while datasets() refuses it with InstanceTooLargeError; the
 * parser's window stays bounded whatever the part size.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { downloadPath } from "../src/download.ts";
import { Rad69Client } from "../src/client.ts";
import {
  InstanceTooLargeError,
  LimitExceededError,
  Rad69Error,
} from "../src/errors.ts";
import { MultipartParser } from "../src/multipart/multipart_parser.ts";
import { MultipartEventSplitter } from "../src/multipart/multipart_splitter.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const quiet = {};

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-stream-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Instances of about 3 MiB against a 1 KiB initial window and a 256 KiB
// in-memory cap: the small limits stand for a 4 GiB instance against the
// 5 MiB window and the 1 GiB cap.
const BIG = syntheticStudy({
  series: 2,
  instancesPerSeries: 2,
  pixelBytes: 3 * 1024 * 1024,
  seed: 77,
});
const LIMITS = { chunkSize: 1024, maxDatasetSize: 256 * 1024 };

for (const concurrency of [1, 2]) {
  Deno.test(
    `download() writes instances larger than the window and the in-memory cap, byte-exact (concurrency ${concurrency})`,
    {
      timeout: 60_000,
    },
    async () => {
      await withDir(async (dir) => {
        await using server = await FakeRad69Server.start({ instances: BIG });
        using client = new Rad69Client({
          url: server.url,
          logger: quiet,
          concurrency,
          ...LIMITS,
        });
        const report = await client.download(refsOf(BIG), dir);
        assert.equal(
          report.delivered,
          BIG.length,
          JSON.stringify(report.entries),
        );
        for (const instance of BIG) {
          assert.ok(instance.bytes.length > 12 * LIMITS.maxDatasetSize);
          const file = await Deno.readFile(downloadPath(dir, instance));
          assert.equal(sha256(file), sha256(instance.bytes));
        }
      });
    },
  );
}

Deno.test(
  "datasets() refuses an instance over maxDatasetSize with InstanceTooLargeError naming download()",
  {
    timeout: 60_000,
  },
  async () => {
    await using server = await FakeRad69Server.start({ instances: BIG });
    const client = new Rad69Client({
      url: server.url,
      logger: quiet,
      ...LIMITS,
    });
    const error = await Array.fromAsync(
      client.datasets(refsOf(BIG).slice(0, 1)),
    )
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof InstanceTooLargeError, String(error));
    assert.ok(error instanceof LimitExceededError);
    assert.ok(error instanceof Rad69Error);
    assert.equal(error.limit, "maxDatasetSize");
    assert.equal(error.max, LIMITS.maxDatasetSize);
    assert.equal(error.instance?.instanceUid, BIG[0]!.instanceUid);
    assert.match(error.message, /use download\(\)/);
    // retrieve() reports it per instance, and the small one still arrives.
    const small = syntheticStudy({
      series: 1,
      instancesPerSeries: 1,
      seed: 78,
    });
    await using other = await FakeRad69Server.start({
      instances: [BIG[0]!, ...small],
    });
    const mixed = new Rad69Client({ url: other.url, logger: quiet, ...LIMITS });
    const outcomes = await Array.fromAsync(
      mixed.retrieve(refsOf([BIG[0]!, small[0]!])),
    );
    const byUid = new Map(outcomes.map((o) => [o.ref.instanceUid, o]));
    const big = byUid.get(BIG[0]!.instanceUid)!;
    assert.equal(big.status, "failed");
    assert.ok(
      big.status === "failed" && big.error instanceof InstanceTooLargeError,
    );
    assert.equal(byUid.get(small[0]!.instanceUid)!.status, "delivered");
  },
);

Deno.test("MultipartParser.pushPieces() keeps its window bounded for a part far larger than it", () => {
  const boundary = "b0undary";
  const size = 8 * 1024 * 1024 + 3;
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + (i >> 9)) & 0xff;
  const enc = new TextEncoder();
  const body = new Uint8Array(size + 64);
  let at = 0;
  for (
    const piece of [
      enc.encode(`--${boundary}\r\n\r\n`),
      payload,
      enc.encode(`\r\n--${boundary}--`),
    ]
  ) {
    body.set(piece, at);
    at += piece.length;
  }
  for (const engine of ["wasm", "ts"] as const) {
    using parser = new MultipartParser(boundary, { engine, windowSize: 1024 });
    const got = new Uint8Array(size);
    let filled = 0;
    let ended = -1;
    let largest = 0;
    for (let i = 0; i < at; i += 65536) {
      parser.pushPieces(body.slice(i, Math.min(at, i + 65536)), {
        head: () => {},
        body: (bytes) => {
          got.set(bytes, filled);
          filled += bytes.length;
        },
        end: (n) => ended = n,
      }, true);
      largest = Math.max(largest, parser.windowLength);
    }
    parser.finish();
    assert.equal(ended, size, engine);
    assert.equal(filled, size, engine);
    assert.deepEqual(got, payload, engine);
    assert.ok(largest <= 256 * 1024, `${engine}: window grew to ${largest}`);
  }
});

Deno.test("MultipartEventSplitter hands out body pieces as views of the chunks written, not copies", async () => {
  const text = "--b\r\n\r\n" + "x".repeat(5000) + "\r\n--b--";
  const chunk = new TextEncoder().encode(text);
  const events = await Array.fromAsync(
    ReadableStream.from([chunk]).pipeThrough(new MultipartEventSplitter("b")),
  );
  const bodies = events.filter((e) => e.kind === "body");
  assert.equal(bodies.length, 1);
  const piece = bodies[0]!.kind === "body" ? bodies[0]!.bytes : undefined;
  assert.equal(piece?.buffer, chunk.buffer, "a view of the written chunk");
  assert.equal(piece?.length, 5000);
});
