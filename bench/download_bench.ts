/**
 * End to end from the fake server to disk with `downloadInstances()`: 8
 * series × 8 instances of 512 KiB of pixel data (32 MiB), one request per
 * series, written to `<tmp>/<study>/<series>/<instance>.dcm`. The server
 * runs in a Web Worker (bench/_bench_server.ts), off the client's thread.
 *
 * Groups:
 * - a fast server (no added latency): `datasets()` without writing (the
 *   baseline: what the disk costs on top), then the download with
 *   concurrency 1 and 4;
 * - a latency-bound server (200 ms before each answer, 32 MiB/s per
 *   response): concurrency 1 (baseline) and 4.
 *
 *   deno bench --allow-net=127.0.0.1 --allow-read --allow-write --allow-env bench/download_bench.ts
 *
 * RAD69_BENCH_DIR picks the folder written to (default: the system's temp
 * folder).
 *
 * @module
 */

import { Rad69Client, type Rad69ClientOptions } from "../src/client.ts";
import { type BenchServer, startServerWorker } from "./_bench_server.ts";

const fast = await startServerWorker([
  "--series",
  "8",
  "--per-series",
  "8",
  "--pixel-kib",
  "512",
]);
const slow = await startServerWorker([
  "--series",
  "8",
  "--per-series",
  "8",
  "--pixel-kib",
  "512",
  "--latency-ms",
  "200",
  "--bytes-per-second",
  String(32 * 1024 * 1024),
]);
const dir = await Deno.makeTempDir({
  prefix: "rad69-download-bench-",
  dir: benchDir(),
});
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
const MIB = 1024 * 1024;

/** Where to write: RAD69_BENCH_DIR, else the temp folder. */
function benchDir(): string | undefined {
  try {
    return Deno.env.get("RAD69_BENCH_DIR") || undefined;
  } catch {
    return undefined;
  }
}

/** A client with a concurrency. */
function client(server: BenchServer, concurrency: number): Rad69Client {
  const options: Rad69ClientOptions & { concurrency?: number } = {
    url: server.url,
    logger: {},
    concurrency,
  };
  return new Rad69Client(options);
}

/** Downloads everything and checks the count. */
async function download(
  server: BenchServer,
  concurrency: number,
): Promise<void> {
  using c = client(server, concurrency);
  const report = await c.download(server.refs, dir);
  if (report.delivered !== server.refs.length) {
    const failed = report.entries.find((e) => e.status === "failed");
    throw new Error(
      `Delivered ${report.delivered} of ${server.refs.length}: ${
        failed?.status === "failed" ? failed.reason : "?"
      }`,
    );
  }
}

const size = `${(fast.bytes / MIB).toFixed(0)} MiB`;

Deno.bench({
  name: "datasets(), no disk",
  group: `fast server, ${size}`,
  baseline: true,
  n: 10,
  warmup: 2,
  async fn() {
    using c = client(fast, 1);
    let count = 0;
    for await (const _ of c.datasets(fast.refs)) count++;
    if (count !== fast.refs.length) throw new Error(`Got ${count}`);
  },
});

for (const concurrency of [1, 4]) {
  Deno.bench({
    name: `downloadInstances(), concurrency ${concurrency}`,
    group: `fast server, ${size}`,
    n: 30,
    warmup: 3,
    async fn() {
      await download(fast, concurrency);
    },
  });
  Deno.bench({
    name: `downloadInstances(), concurrency ${concurrency}`,
    group: `latency-bound server (200 ms + 32 MiB/s per answer), ${size}`,
    baseline: concurrency === 1,
    n: 3,
    warmup: 1,
    async fn() {
      await download(slow, concurrency);
    },
  });
}
