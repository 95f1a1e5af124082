/**
 * Worker concurrency benchmark (issue 4): `Rad69Client.datasets()` end to
 * end from the fake server over loopback HTTP, one request per series.
 *
 * - Group "latency-bound": every answer waits 200 ms before its headers and
 *   is paced at 50 MB/s per connection (a remote PACS). Baseline: the
 *   single-threaded client (concurrency 1); contenders: 4 workers (the
 *   default, warm start: the first requests run on the main thread while
 *   the workers load), 4 workers from the first request
 *   (`retrieveConcurrently()` with `warmStart: false`), and 4 concurrent
 *   exchanges on the main thread. Goal: 4 workers ≥ 3.5×.
 * - Group "fast local": no latency, no pacing. Baseline: single-threaded;
 *   contenders: 2 and 4 with the default `workers` (a worker starts only
 *   while a core is idle), 2 workers from the first request, and 4 on the
 *   main thread. Goal: workers not slower than the baseline.
 *
 * Each fake server runs in its own Web Worker (`bench/_bench_server.ts`,
 * random 12-bit pixel data), so building and writing the answers does
 * not run on the client's event loop; on a 2-core machine the server, the
 * client's workers and Deno's HTTP I/O still share the cores. Every run
 * checks the instance count and byte total.
 *
 *   deno bench --allow-net=127.0.0.1 --allow-read --allow-env bench/concurrency_bench.ts
 *
 * Environment (needs --allow-env; defaults in brackets):
 * CONC_BENCH_LATENCY_SERIES [16], CONC_BENCH_LATENCY_PER_SERIES [4],
 * CONC_BENCH_LATENCY_KIB [256] (pixel data per instance),
 * CONC_BENCH_FAST_SERIES [16], CONC_BENCH_FAST_PER_SERIES [16],
 * CONC_BENCH_FAST_KIB [256].
 *
 * @module
 */

import { planBatches, Rad69Client } from "../src/client.ts";
import { retrieveConcurrently } from "../src/concurrent.ts";
import { type ServerInfo, startServerWorker } from "./_bench_server.ts";

const MIB = 1 << 20;

/** The study and plan of one server. */
interface StartRequest {
  series: number;
  perSeries: number;
  pixelKib: number;
  latencyMs?: number;
  bytesPerSecond?: number;
}

/** What a server worker answers. */
type Started = ServerInfo;

function env(name: string, fallback: number): number {
  try {
    const value = Deno.env.get(name);
    return value ? Number(value) : fallback;
  } catch {
    return fallback; // No --allow-env.
  }
}

/** Starts a fake server in a worker of its own (bench/_bench_server.ts). */
function serverInWorker(request: StartRequest): Promise<Started> {
  const args = [
    "--series",
    String(request.series),
    "--per-series",
    String(request.perSeries),
    "--pixel-kib",
    String(request.pixelKib),
    "--chunk-kib",
    "256",
  ];
  if (request.latencyMs) args.push("--latency-ms", String(request.latencyMs));
  if (request.bytesPerSecond) {
    args.push("--bytes-per-second", String(request.bytesPerSecond));
  }
  return startServerWorker(args);
}

/** How one contender retrieves. */
interface Contender {
  /** Requests at once. */
  concurrency: number;
  /** Web Workers (default) or the main thread. */
  workers?: boolean;
  /** Every request in a worker from the start (no main-thread warm start). */
  workersOnly?: boolean;
}

/** Retrieves every instance; checks the count and the byte total. */
async function retrieveAll(
  started: Started,
  contender: Contender,
): Promise<number> {
  const outcomes = contender.workersOnly
    ? retrieveConcurrently(planBatches(started.refs), {
      url: started.url,
      concurrency: contender.concurrency,
      warmStart: false,
    })
    : new Rad69Client({
      url: started.url,
      logger: {},
      concurrency: contender.concurrency,
      ...(contender.workers === undefined
        ? {}
        : { workers: contender.workers }),
    }).retrieve(started.refs);
  let count = 0;
  let bytes = 0;
  for await (const outcome of outcomes) {
    if (outcome.status !== "delivered") throw outcome.error;
    count++;
    bytes += outcome.instance.bytes.length;
  }
  if (count !== started.refs.length || bytes !== started.bytes) {
    throw new Error(
      `Concurrency ${contender.concurrency} delivered ${count} instances of ${bytes} bytes: expected ${started.refs.length} of ${started.bytes}`,
    );
  }
  return bytes;
}

/** Registers one group: the first contender is the baseline. */
function benchGroup(
  group: string,
  started: Started,
  runs: { n: number; warmup: number },
  contenders: [string, Contender][],
): void {
  contenders.forEach(([name, contender], i) => {
    Deno.bench({
      name,
      group,
      baseline: i === 0,
      ...runs,
      async fn() {
        await retrieveAll(started, contender);
      },
    });
  });
}

async function main(): Promise<void> {
  const latencyRequest: StartRequest = {
    series: env("CONC_BENCH_LATENCY_SERIES", 16),
    perSeries: env("CONC_BENCH_LATENCY_PER_SERIES", 4),
    pixelKib: env("CONC_BENCH_LATENCY_KIB", 256),
    latencyMs: 200,
    bytesPerSecond: 50e6,
  };
  const fastRequest: StartRequest = {
    series: env("CONC_BENCH_FAST_SERIES", 16),
    perSeries: env("CONC_BENCH_FAST_PER_SERIES", 16),
    pixelKib: env("CONC_BENCH_FAST_KIB", 256),
  };
  const [slow, fast] = await Promise.all([
    serverInWorker(latencyRequest),
    serverInWorker(fastRequest),
  ]);
  const describe = (r: StartRequest, s: Started) =>
    `${r.series} series × ${r.perSeries} × ${r.pixelKib} KiB, ${
      (s.bytes / MIB).toFixed(1)
    } MiB`;
  const latencyGroup = `latency-bound (200 ms, 50 MB/s per connection): ${
    describe(latencyRequest, slow)
  }`;
  const fastGroup = `fast local server: ${describe(fastRequest, fast)}`;

  // Each run of the latency group takes seconds: a few are enough.
  benchGroup(latencyGroup, slow, { n: 3, warmup: 1 }, [
    ["concurrency 1 (single-threaded)", { concurrency: 1 }],
    ["concurrency 4 (default workers setting)", { concurrency: 4 }],
    ["concurrency 4, workers: true", { concurrency: 4, workers: true }],
    ["concurrency 4, workers only (no warm start)", {
      concurrency: 4,
      workersOnly: true,
    }],
    ["concurrency 4, main thread", { concurrency: 4, workers: false }],
  ]);
  benchGroup(fastGroup, fast, { n: 10, warmup: 2 }, [
    ["concurrency 1 (single-threaded)", { concurrency: 1 }],
    ["concurrency 2 (default workers setting)", { concurrency: 2 }],
    ["concurrency 4 (default workers setting)", { concurrency: 4 }],
    ["concurrency 4, workers: true", { concurrency: 4, workers: true }],
    ["concurrency 2, workers only (no warm start)", {
      concurrency: 2,
      workersOnly: true,
    }],
    ["concurrency 4, main thread", { concurrency: 4, workers: false }],
  ]);
}
await main();
