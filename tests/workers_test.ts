/**
 * Worker concurrency: the worker pool, the retrieve worker, the message
 * (de)serialisation and the concurrent scheduler, end to end over loopback
 * HTTP against the fake RAD-69 server.
 *
 * Concurrency is shown without timings: the fake server's `onRequest` hook
 * holds each request until N requests are in flight at once (a latch with a
 * generous time limit); a sequential client never reaches N and the latch
 * only gives up after its limit.
 */

import assert from "node:assert/strict";
import * as errorClasses from "../src/errors.ts";
import {
  IncompleteRetrieveError,
  InvalidDicomError,
  InvalidUidError,
  LimitExceededError,
  MultipartSyntaxError,
  Rad69Error,
  Rad69HttpError,
  Rad69ProtocolError,
  Rad69ServerError,
  SoapFaultError,
  SopInstanceMismatchError,
  TruncatedResponseError,
  XDSMissingDocumentError,
} from "../src/errors.ts";
import { planBatches, Rad69Client } from "../src/client.ts";
import { retrieveConcurrently } from "../src/concurrent.ts";
import type { InstanceReference } from "../src/references.ts";
import type { InstanceOutcome } from "../src/outcome.ts";
import { resolveExchangeConfig, resolveSettings } from "../src/config.ts";
import type { AttemptReport } from "../src/outcome.ts";
import {
  deserializeError,
  knownErrorClassNames,
  serializeError,
  toWorkerJobOptions,
} from "../src/workers/_messages.ts";
import { WorkerPool } from "../src/workers/worker_pool.ts";
import {
  FakeRad69Server,
  type FaultPlan,
  type RecordedRequest,
  syntheticStudy,
} from "../src/testing/mod.ts";
import { collect, refsOf, sameBytes } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({
  series: 6,
  instancesPerSeries: 3,
  pixelBytes: 4096,
});
const REFS = refsOf(STUDY);
const BYTES = new Map(STUDY.map((i) => [i.instanceUid, i.bytes]));
const SERIES = [...new Set(STUDY.map((i) => i.seriesUid))];
const quiet = {};
const WORKER_URL = new URL("../src/workers/retrieve_worker.ts", import.meta.url)
  .href;

/**
 * Tracks the workers created while `fn` runs (the pool looks `Worker` up
 * when it spawns one), so a test can check that none is left alive.
 */
async function trackingWorkers<T>(
  fn: (
    live: () => number,
    spawned: () => number,
    ready: () => number,
  ) => Promise<T>,
): Promise<T> {
  const Original = globalThis.Worker;
  const alive = new Set<Worker>();
  let spawned = 0;
  let ready = 0;
  class TrackedWorker extends Original {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      alive.add(this);
      spawned++;
      this.addEventListener("message", (event) => {
        if ((event as MessageEvent).data?.type === "ready") ready++;
      });
    }
    override terminate(): void {
      alive.delete(this);
      super.terminate();
    }
  }
  globalThis.Worker = TrackedWorker;
  try {
    return await fn(() => alive.size, () => spawned, () => ready);
  } finally {
    globalThis.Worker = Original;
    for (const worker of alive) worker.terminate();
  }
}

/** Counts the main thread's `fetch` calls while `fn` runs (workers have their own). */
async function countingMainFetches<T>(
  fn: (count: () => number) => Promise<T>,
): Promise<T> {
  const original = globalThis.fetch;
  let calls = 0;
  globalThis.fetch = (input, init) => {
    calls++;
    return original(input, init);
  };
  try {
    return await fn(() => calls);
  } finally {
    globalThis.fetch = original;
  }
}

/**
 * A latch for the fake server's `onRequest`: each request waits until
 * `target` requests are in flight (or `limitMs` passed), then `holdMs`.
 * `max` is the most requests seen in flight at once.
 */
function inFlightLatch(target: number, limitMs = 5000, holdMs = 0) {
  let inFlight = 0;
  let max = 0;
  const waiters: (() => void)[] = [];
  const state = {
    get max() {
      return max;
    },
    async hook(_request: RecordedRequest): Promise<FaultPlan | undefined> {
      inFlight++;
      max = Math.max(max, inFlight);
      if (inFlight >= target) { for (const wake of waiters.splice(0)) wake(); }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        if (inFlight >= target) return resolve();
        waiters.push(resolve);
        timer = setTimeout(resolve, limitMs);
      });
      clearTimeout(timer);
      if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
      inFlight--;
      return undefined;
    },
  };
  return state;
}

/** Waits for `promise`, or `ms` milliseconds at most (the timer is cleared). */
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function assertDeliveredBytes(outcomes: InstanceOutcome[]): void {
  for (const o of outcomes) {
    if (o.status !== "delivered") continue;
    const source = BYTES.get(o.ref.instanceUid);
    assert.ok(source, `unexpected instance ${o.ref.instanceUid}`);
    assert.ok(
      sameBytes(o.instance.bytes, source),
      `bytes of ${o.ref.instanceUid} differ from the source`,
    );
  }
}

function uids(outcomes: InstanceOutcome[], status: string): string[] {
  return outcomes.filter((o) => o.status === status).map((o) =>
    o.ref.instanceUid
  ).sort();
}

Deno.test("Rad69Client with concurrency 1, 2 and 4 delivers the same instances, byte-identical", async () => {
  await trackingWorkers(async (live, spawned) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const results: string[][] = [];
    for (const concurrency of [1, 2, 4]) {
      server.clearRequests();
      const before = spawned();
      const client = new Rad69Client({
        workers: true,
        url: server.url,
        concurrency,
        logger: quiet,
      });
      const got = await collect(client.datasets(REFS));
      assert.equal(got.length, REFS.length, `concurrency ${concurrency}`);
      for (const instance of got) {
        assert.ok(
          sameBytes(instance.bytes, BYTES.get(instance.ref.instanceUid)!),
        );
        // The dataset is parsed on the main thread, on first access.
        assert.equal(
          instance.dataset.string("x00080018"),
          instance.ref.instanceUid,
        );
      }
      results.push(got.map((i) => i.ref.instanceUid).sort());
      assert.equal(server.requests.length, SERIES.length, "one per series");
      assert.equal(live(), 0, "every worker is terminated");
      const started = spawned() - before;
      if (concurrency === 1) assert.equal(started, 0, "no worker");
      else assert.ok(started <= concurrency, `${started} workers`);
    }
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });
});

Deno.test("Rad69Client with concurrency 3 runs three requests at once", async () => {
  const latch = inFlightLatch(3);
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    onRequest: latch.hook,
  });
  const client = new Rad69Client({
    workers: true,
    url: server.url,
    concurrency: 3,
    logger: quiet,
  });
  const got = await collect(client.retrieve(REFS));
  assert.equal(uids(got, "delivered").length, REFS.length);
  assertDeliveredBytes(got);
  assert.equal(latch.max, 3, "three requests were in flight at once");
});

Deno.test("retrieveConcurrently() without warm start runs every request in a worker, three at once", async () => {
  await trackingWorkers(async (live, spawned) => {
    await countingMainFetches(async (mainFetches) => {
      const latch = inFlightLatch(3);
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        onRequest: latch.hook,
      });
      const got = await collect(retrieveConcurrently(planBatches(REFS), {
        url: server.url,
        concurrency: 3,
        warmStart: false,
      }));
      assert.equal(uids(got, "delivered").length, REFS.length);
      assertDeliveredBytes(got);
      assert.equal(latch.max, 3, "three requests were in flight at once");
      assert.equal(mainFetches(), 0, "no request from the main thread");
      // Six series, three workers: the queue drained through them.
      assert.equal(server.requests.length, SERIES.length);
      assert.equal(spawned(), 3);
      assert.equal(live(), 0);
    });
  });
});

Deno.test("retrieveConcurrently() with warm start starts on the main thread, then hands over to workers once loaded", async () => {
  await trackingWorkers(async (live, spawned, ready) => {
    await countingMainFetches(async (mainFetches) => {
      // The first two answers wait until both workers have loaded, so the
      // next requests find them free.
      let first = 0;
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        onRequest: async () => {
          if (++first > 2) return undefined;
          for (let i = 0; i < 500 && ready() < 2; i++) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          return undefined;
        },
      });
      const got = await collect(retrieveConcurrently(planBatches(REFS), {
        url: server.url,
        concurrency: 2,
      }));
      assert.equal(uids(got, "delivered").length, REFS.length);
      assertDeliveredBytes(got);
      assert.equal(ready(), 2, "both workers loaded");
      assert.equal(mainFetches(), 2, "the first wave ran on the main thread");
      assert.equal(spawned(), 2);
      assert.equal(live(), 0);
    });
  });
});

Deno.test("retrieveConcurrently() with warm start creates no worker for a plan that fits in one wave", async () => {
  await trackingWorkers(async (_live, spawned) => {
    await using server = await FakeRad69Server.start({
      instances: STUDY,
      plan: { latencyMs: 100 },
    });
    const got = await collect(retrieveConcurrently(planBatches(REFS), {
      url: server.url,
      concurrency: SERIES.length,
    }));
    assert.equal(uids(got, "delivered").length, REFS.length);
    assert.equal(spawned(), 0);
  });
});

Deno.test("Rad69Client with workers: true falls back to concurrent main-thread exchanges with a custom fetch", async () => {
  await trackingWorkers(async (_live, spawned) => {
    const latch = inFlightLatch(3);
    await using server = await FakeRad69Server.start({
      instances: STUDY,
      onRequest: latch.hook,
    });
    let fetches = 0;
    const debug: string[] = [];
    const client = new Rad69Client({
      url: server.url,
      concurrency: 3,
      workers: true,
      fetch: (input, init) => {
        fetches++;
        return fetch(input, init);
      },
      logger: { debug: (line) => debug.push(line) },
    });
    const got = await collect(client.retrieve(REFS));
    assertDeliveredBytes(got);
    assert.equal(uids(got, "delivered").length, REFS.length);
    assert.equal(fetches, SERIES.length, "the custom fetch did every request");
    assert.equal(latch.max, 3, "three requests were in flight at once");
    assert.equal(spawned(), 0, "no worker");
    assert.ok(
      debug.some((line) => /main thread: a custom fetch/.test(line)),
      "the fallback is logged at debug level",
    );
  });
});

Deno.test("Rad69Client keeps the caller's reference objects and accounts per instance when jobs fail", async () => {
  const [a, b, c, d] = SERIES;
  const bRefs = REFS.filter((r) => r.seriesUid === b);
  const cBad = REFS.find((r) => r.seriesUid === c)!.instanceUid;
  const missing: InstanceReference = {
    studyUid: STUDY[0]!.studyUid,
    seriesUid: a!,
    instanceUid: "1.2.3.999999",
  };
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    onRequest: (request) => {
      const series = request.seriesUids[0];
      // Series b: the connection drops after 3000 bytes (one part at most).
      if (series === b) return { truncate: { at: 3000, mode: "abort" } };
      if (series === c) return { notDicom: [cBad] };
      if (series === d) return { http: { status: 500, body: "boom" } };
      return undefined;
    },
  });
  const refs = [...REFS, missing];
  const client = new Rad69Client({
    workers: true,
    url: server.url,
    concurrency: 3,
    retries: 0,
    logger: quiet,
  });
  const outcomes = await collect(client.retrieve(refs));
  // Exactly one outcome per requested instance, and the caller's objects.
  assert.equal(outcomes.length, refs.length);
  assert.equal(new Set(outcomes.map((o) => o.ref)).size, refs.length);
  for (const o of outcomes) assert.ok(refs.includes(o.ref), "same object");
  assertDeliveredBytes(outcomes);
  const byUid = new Map(outcomes.map((o) => [o.ref.instanceUid, o]));
  const failed = (uid: string) => {
    const o = byUid.get(uid)!;
    assert.equal(o.status, "failed", `${uid} should have failed`);
    return (o as { error: Rad69Error }).error;
  };
  const missingError = failed(missing.instanceUid);
  assert.ok(missingError instanceof XDSMissingDocumentError);
  assert.equal(missingError.code, "XDSMissingDocument");
  assert.equal(missingError.instance, missing, "the caller's own ref object");
  for (const ref of bRefs) {
    const o = byUid.get(ref.instanceUid)!;
    if (o.status === "failed") {
      assert.ok(
        o.error instanceof TruncatedResponseError ||
          o.error instanceof errorClasses.Rad69NetworkError,
        `${o.error.name}: ${o.error.message}`,
      );
    }
  }
  assert.ok(
    bRefs.some((r) => byUid.get(r.instanceUid)!.status === "failed"),
    "the cut request lost instances",
  );
  const bad = failed(cBad);
  assert.ok(bad instanceof InvalidDicomError);
  assert.equal(bad.documentUniqueId, cBad);
  for (const ref of REFS.filter((r) => r.seriesUid === d)) {
    const error = failed(ref.instanceUid);
    assert.ok(error instanceof Rad69HttpError);
    assert.equal(error.status, 500);
    assert.equal(error.url, server.url);
  }
  // Every other instance arrived.
  const others = REFS.filter((r) =>
    r.seriesUid !== b && r.seriesUid !== d && r.instanceUid !== cBad
  );
  for (const ref of others) {
    assert.equal(byUid.get(ref.instanceUid)!.status, "delivered");
  }
});

Deno.test("Rad69Client.datasets() with concurrency throws once a failing request has ended", async () => {
  const target = SERIES[1]!;
  const missing: InstanceReference = {
    studyUid: STUDY[0]!.studyUid,
    seriesUid: target,
    instanceUid: "1.2.3.888888",
  };
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const client = new Rad69Client({
    workers: true,
    url: server.url,
    concurrency: 2,
    ordered: true,
    logger: quiet,
  });
  const seen: string[] = [];
  await assert.rejects(
    async () => {
      for await (const instance of client.datasets([...REFS, missing])) {
        seen.push(instance.ref.instanceUid);
      }
    },
    (error: unknown) => {
      assert.ok(error instanceof XDSMissingDocumentError);
      assert.equal(error.instance, missing);
      return true;
    },
  );
  // Ordered: series 1, then every delivered instance of series 2, then the
  // throw; nothing of a later series.
  const expected = REFS.filter((r) =>
    r.seriesUid === SERIES[0] || r.seriesUid === target
  ).map((r) => r.instanceUid);
  assert.deepEqual(seen, expected);

  // errorsToIgnore skips it, and everything else arrives.
  const lenient = new Rad69Client({
    workers: true,
    url: server.url,
    concurrency: 2,
    errorsToIgnore: [XDSMissingDocumentError],
    logger: quiet,
  });
  const all = await collect(lenient.datasets([...REFS, missing]));
  assert.equal(all.length, REFS.length);
});

Deno.test("Rad69Client with ordered: true yields request by request in plan order", async () => {
  // The first series is answered last: it waits until every other request
  // has reached the server, then a little more.
  let others = 0;
  let release: (() => void) | undefined;
  const othersIn = new Promise<void>((resolve) => release = resolve);
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    onRequest: async (request) => {
      if (request.seriesUids[0] === SERIES[0]) {
        await atMost(othersIn, 5000);
        return { latencyMs: 100 };
      }
      if (++others === SERIES.length - 1) release?.();
      return undefined;
    },
  });
  const client = new Rad69Client({
    workers: true,
    url: server.url,
    concurrency: SERIES.length,
    ordered: true,
    logger: quiet,
  });
  const got = await collect(client.retrieve(REFS));
  assert.deepEqual(
    got.map((o) => o.ref.instanceUid),
    REFS.map((r) => r.instanceUid),
    "plan order (the fake server answers in request order)",
  );
});

Deno.test("Rad69Client with ordered: false yields as results arrive", async () => {
  // The first series is held until an instance of another series has been
  // consumed: a client that waited for it in plan order would deadlock
  // (then the hold gives up after 5 s and the test fails).
  let releaseFirst: (() => void) | undefined;
  const firstHeld = new Promise<void>((resolve) => releaseFirst = resolve);
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    onRequest: async (request) => {
      if (request.seriesUids[0] === SERIES[0]) {
        await atMost(firstHeld, 5000);
      }
      return undefined;
    },
  });
  const client = new Rad69Client({
    workers: true,
    url: server.url,
    concurrency: 2,
    logger: quiet,
  });
  const order: string[] = [];
  for await (const o of client.retrieve(REFS)) {
    order.push(o.ref.seriesUid);
    if (o.ref.seriesUid !== SERIES[0]) releaseFirst?.();
  }
  assert.equal(order.length, REFS.length);
  assert.notEqual(order[0], SERIES[0], "another series came first");
});

Deno.test("retrieveConcurrently() rejects promptly on abort mid-flight and leaves no worker", async (t) => {
  for (const warmStart of [false, true]) {
    await t.step(`warmStart: ${warmStart}`, async () => {
      await trackingWorkers(async (live, spawned) => {
        await using server = await FakeRad69Server.start({
          instances: STUDY,
          // Every answer stalls after its first bytes, forever.
          plan: { stall: { at: 2000 } },
        });
        const controller = new AbortController();
        const reason = new Error("Stop now");
        const iteration = collect(retrieveConcurrently(planBatches(REFS), {
          url: server.url,
          concurrency: 2,
          warmStart,
          signal: controller.signal,
        }));
        // Abort once both requests are in flight.
        const poll = setInterval(() => {
          if (server.requests.length >= 2) {
            clearInterval(poll);
            controller.abort(reason);
          }
        }, 10);
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([
            assert.rejects(iteration, (error) => error === reason),
            new Promise((_, reject) =>
              timer = setTimeout(
                () => reject(new Error("No rejection within 10 s")),
                10_000,
              )
            ),
          ]);
        } finally {
          clearInterval(poll);
          clearTimeout(timer);
        }
        assert.equal(server.requests.length, 2, "no request after the abort");
        // Warm start creates the workers in the background, one at a time.
        if (warmStart) assert.ok(spawned() <= 2);
        else assert.equal(spawned(), 2);
        assert.equal(live(), 0, "every worker is terminated");
      });
    });
  }
});

Deno.test("Rad69Client with concurrency rejects with the client signal's reason", async () => {
  await trackingWorkers(async (live) => {
    await using server = await FakeRad69Server.start({
      instances: STUDY,
      plan: { stall: { at: 2000 } },
    });
    const controller = new AbortController();
    const client = new Rad69Client({
      workers: true,
      url: server.url,
      concurrency: 2,
      signal: controller.signal,
      logger: quiet,
    });
    const reason = new Error("Client closed");
    const iteration = collect(client.datasets(REFS));
    const poll = setInterval(() => {
      if (server.requests.length >= 2) {
        clearInterval(poll);
        controller.abort(reason);
      }
    }, 10);
    try {
      await assert.rejects(iteration, (error) => error === reason);
    } finally {
      clearInterval(poll);
    }
    assert.equal(live(), 0);
  });
});

Deno.test("retrieveConcurrently(): breaking out of the loop terminates the workers", async () => {
  await trackingWorkers(async (live, spawned) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    let n = 0;
    for await (
      const _ of retrieveConcurrently(planBatches(REFS), {
        url: server.url,
        concurrency: 3,
        warmStart: false,
      })
    ) {
      if (++n === 2) break;
    }
    assert.equal(n, 2);
    assert.equal(spawned(), 3);
    assert.equal(live(), 0);
  });
});

Deno.test("Rad69Client with concurrency runs more series than workers and splits a big series by maxInstancesPerRequest", async () => {
  const big = syntheticStudy({
    series: 1,
    instancesPerSeries: 9,
    pixelBytes: 2048,
    seed: 7,
  });
  const small = syntheticStudy({
    series: 5,
    instancesPerSeries: 2,
    pixelBytes: 2048,
    seed: 8,
  });
  const study = [...big, ...small];
  await trackingWorkers(async (live, spawned) => {
    await using server = await FakeRad69Server.start({ instances: study });
    const client = new Rad69Client({
      workers: true,
      url: server.url,
      concurrency: 2,
      maxInstancesPerRequest: 4,
      logger: quiet,
    });
    const got = await collect(client.datasets(refsOf(study)));
    assert.equal(got.length, study.length);
    const source = new Map(study.map((i) => [i.instanceUid, i.bytes]));
    for (const i of got) {
      assert.ok(sameBytes(i.bytes, source.get(i.ref.instanceUid)!));
    }
    // 9 instances in bins of 4, 4, 1; then one request per small series.
    assert.deepEqual(
      server.requests.map((r) => r.documentUniqueIds.length).sort(),
      [1, 2, 2, 2, 2, 2, 4, 4],
    );
    assert.ok(server.requests.every((r) => r.seriesUids.length === 1));
    assert.ok(spawned() <= 2, "at most two workers for eight jobs");
    assert.equal(live(), 0);
  });
});

Deno.test("retrieveConcurrently() proxies onAttempt, onBytes and the logger from workers", async () => {
  const flaky = SERIES[2]!;
  let failedOnce = false;
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    onRequest: (request) => {
      if (request.seriesUids[0] === flaky && !failedOnce) {
        failedOnce = true;
        return {
          http: { status: 503, body: "busy", headers: { "retry-after": "0" } },
        };
      }
      return undefined;
    },
  });
  const warnings: string[] = [];
  const reports: AttemptReport[] = [];
  let bytes = 0;
  const got = await countingMainFetches(async (mainFetches) => {
    const got = await collect(retrieveConcurrently(planBatches(REFS), {
      url: server.url,
      concurrency: 2,
      warmStart: false,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 5,
      logger: { warn: (line) => warnings.push(line) },
      onAttempt: (report) => reports.push(report),
      onBytes: (count) => bytes += count,
    }));
    assert.equal(mainFetches(), 0, "every request ran in a worker");
    return got;
  });
  assert.equal(uids(got, "delivered").length, REFS.length);
  assert.equal(reports.length, SERIES.length + 1, "one retry");
  const retried = reports.find((r) => r.retrying > 0)!;
  assert.ok(retried.transientError instanceof Rad69HttpError);
  assert.equal(retried.transientError.status, 503);
  assert.equal(retried.transientError.retryAfterSeconds, 0);
  const payload = STUDY.reduce((n, i) => n + i.bytes.length, 0);
  assert.ok(bytes > payload, `${bytes} body bytes for ${payload} of DICOM`);
  assert.ok(
    warnings.some((line) => /^Retrying 3 instance/.test(line)),
    warnings.join("\n"),
  );
});

Deno.test("retrieveConcurrently() stops reading a body while the consumer holds prefetch instances", async (t) => {
  const study = syntheticStudy({
    series: 1,
    instancesPerSeries: 12,
    pixelBytes: 512 * 1024,
    seed: 11,
  });
  const total = study.reduce((n, i) => n + i.bytes.length, 0);
  await using server = await FakeRad69Server.start({ instances: study });
  for (const workers of [true, false]) {
    await t.step(workers ? "in a worker" : "on the main thread", async () => {
      let bytes = 0;
      const iterator = retrieveConcurrently(planBatches(refsOf(study)), {
        url: server.url,
        concurrency: 2,
        workers,
        warmStart: false,
        prefetch: 1,
        onBytes: (count) => bytes += count,
      })[Symbol.asyncIterator]();
      try {
        const first = await iterator.next();
        assert.equal(first.done, false);
        // Unbounded reading would take the whole 6 MiB in far less time.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.ok(
          bytes < total / 2,
          `${bytes} of ${total} bytes read with one instance taken`,
        );
        let rest = 0;
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          assert.equal(next.value.status, "delivered");
          rest++;
        }
        assert.equal(rest, study.length - 1);
        assert.ok(bytes > total, "everything was read in the end");
      } finally {
        await iterator.return?.();
      }
    });
  }
});

Deno.test("retrieveConcurrently() fails the rest of a job whose worker crashed, replaces the worker and runs the others", async () => {
  const crashSeries = SERIES[1]!;
  // A worker that runs the real one but dies after sending its first
  // outcome for the crash series (and sends nothing more).
  const source = `
    import ${JSON.stringify(WORKER_URL)};
    const post = globalThis.postMessage.bind(globalThis);
    const real = globalThis.onmessage;
    let crashJob = -1;
    let dead = false;
    globalThis.onmessage = (event) => {
      const m = event.data;
      if (m.type === "job" && m.refs[0].seriesUid === ${
    JSON.stringify(crashSeries)
  }) crashJob = m.id;
      real(event);
    };
    globalThis.postMessage = (message, transfer) => {
      if (dead) return;
      if (message.id === crashJob && message.type === "outcomes") {
        dead = true;
        post({ ...message, outcomes: message.outcomes.slice(0, 1) }, transfer);
        setTimeout(() => { throw new Error("Simulated worker crash"); }, 0);
        return;
      }
      post(message, transfer);
    };
  `;
  const workerUrl = `data:application/javascript,${encodeURIComponent(source)}`;
  await trackingWorkers(async (live, spawned) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const outcomes = await collect(retrieveConcurrently(planBatches(REFS), {
      url: server.url,
      concurrency: 1,
      prefetch: 1,
      warmStart: false,
      workerUrl,
    }));
    assert.equal(outcomes.length, REFS.length);
    assertDeliveredBytes(outcomes);
    const crashed = outcomes.filter((o) => o.ref.seriesUid === crashSeries);
    assert.equal(uids(crashed, "delivered").length, 1);
    for (const o of crashed) {
      if (o.status !== "failed") continue;
      assert.ok(o.error instanceof Rad69Error);
      assert.match(o.error.message, /crashed while retrieving 3 instance/);
    }
    const rest = outcomes.filter((o) => o.ref.seriesUid !== crashSeries);
    assert.equal(uids(rest, "delivered").length, REFS.length - 3);
    assert.equal(spawned(), 2, "the crashed worker was replaced");
    assert.equal(live(), 0);
  });
});

Deno.test("retrieveConcurrently() runs the requests on the main thread when no worker can load", async () => {
  // A worker module that throws while loading (as a missing module or a
  // denied read would).
  const workerUrl = `data:application/javascript,${
    encodeURIComponent('throw new Error("Simulated load failure");')
  }`;
  await trackingWorkers(async (live) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const warnings: string[] = [];
    const outcomes = await collect(retrieveConcurrently(planBatches(REFS), {
      url: server.url,
      concurrency: 2,
      warmStart: false,
      workerUrl,
      logger: { warn: (line) => warnings.push(line) },
    }));
    assert.equal(uids(outcomes, "delivered").length, REFS.length);
    assertDeliveredBytes(outcomes);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0]!, /a worker could not start/);
    assert.match(warnings[0]!, /Simulated load failure/);
    assert.equal(live(), 0);
  });
});

Deno.test("WorkerPool spawns lazily, runs queued jobs and terminates on dispose", async () => {
  await trackingWorkers(async (live, spawned) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const batches = planBatches(REFS);
    {
      using pool = new WorkerPool({ size: 2 });
      assert.equal(spawned(), 0, "no worker before a job");
      const done = batches.map((refs) =>
        new Promise<number>((resolve, reject) => {
          let delivered = 0;
          const job = pool.submit(refs, {
            settings: resolveSettings({ url: server.url }),
            logLevels: [],
            reportAttempts: false,
            reportBytes: false,
            prefetch: 100,
          }, {
            onMessage(message) {
              if (message.type === "outcomes") {
                for (const o of message.outcomes) {
                  if (o.status === "delivered") delivered++;
                }
                job.credit(message.outcomes.length);
              } else if (message.type === "done") resolve(delivered);
              else if (message.type === "error") {
                reject(deserializeError(message.error));
              }
            },
            onCrash: reject,
          });
        })
      );
      assert.equal(pool.alive, 2);
      assert.equal(pool.queued, batches.length - 2);
      assert.deepEqual(await Promise.all(done), batches.map((b) => b.length));
      assert.equal(spawned(), 2);
      assert.equal(live(), 2, "the workers stay for the pool's life");
    }
    assert.equal(live(), 0, "disposing terminated them");
    assert.throws(() => new WorkerPool({ size: 0 }), RangeError);
  });
});

/** Runs openssl in `cwd`; throws with its stderr on failure. */
async function openssl(args: string[], cwd: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `openssl ${args[0]} failed (${code}): ${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
}

/** A private CA and a server certificate for 127.0.0.1 signed by it. */
async function makeServerPki(): Promise<
  { ca: string; cert: string; key: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-workers-tls-" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=rad69 workers test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
    await openssl([
      "req",
      ...ec,
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    ], dir);
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "2",
      "-extfile",
      "server.ext",
    ], dir);
    return {
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
      cert: await Deno.readTextFile(`${dir}/server.pem`),
      key: await Deno.readTextFile(`${dir}/server.key`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const HAS_OPENSSL = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name:
    "Rad69Client with concurrency and tls: each worker builds its own HTTP client from the PEM material",
  ignore: !HAS_OPENSSL,
  async fn() {
    const pki = await makeServerPki();
    await using fake = await FakeRad69Server.start({ instances: STUDY });
    // An HTTPS front (certificate from the private CA) forwarding to the
    // fake server.
    await using front = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: pki.cert,
      key: pki.key,
      onListen() {},
    }, async (request) => {
      const answer = await fetch(fake.url, {
        method: "POST",
        headers: request.headers,
        body: await request.bytes(),
      });
      return new Response(answer.body, {
        status: answer.status,
        headers: answer.headers,
      });
    });
    const url = `https://127.0.0.1:${front.addr.port}/rad69`;
    await trackingWorkers(async (live, spawned) => {
      await countingMainFetches(async (mainFetches) => {
        using client = new Rad69Client({
          workers: true,
          url,
          concurrency: 2,
          tls: { caCerts: [pki.ca] },
          logger: quiet,
        });
        const got = await collect(client.retrieve(REFS));
        assertDeliveredBytes(got);
        assert.equal(uids(got, "delivered").length, REFS.length);
        // With tls there is no warm start: every request ran in a worker.
        assert.equal(mainFetches(), SERIES.length, "only the front's fetches");
        assert.equal(spawned(), 2);
        assert.equal(live(), 0);
      });
      // Without the CA, the server certificate is refused, in the workers too.
      const untrusted = new Rad69Client({
        url,
        concurrency: 2,
        workers: true,
        retries: 0,
        logger: quiet,
      });
      const refused = await collect(untrusted.retrieve(REFS));
      assert.equal(uids(refused, "failed").length, REFS.length);
      for (const o of refused) {
        if (o.status === "failed") {
          assert.ok(o.error instanceof errorClasses.Rad69NetworkError);
        }
      }
    });
  },
});

/** One instance of every error class of errors.ts, fields set. */
function sampleErrors(): Rad69Error[] {
  const instance = {
    studyUid: "1.2",
    seriesUid: "1.2.3",
    instanceUid: "1.2.3.4",
  };
  const network = new errorClasses.Rad69NetworkError("Connection reset", {
    cause: new TypeError("error sending request"),
    instance,
  });
  const samples: Rad69Error[] = [
    new Rad69Error("Generic", { instance }),
    new errorClasses.NonInstanceParameterError("No instances"),
    new InvalidUidError("1.02", "references[0].studyUid", "has a leading zero"),
    new Rad69HttpError("HTTP 503", {
      status: 503,
      url: "http://pacs/rad69",
      bodyExcerpt: "<html>busy</html>",
      retryAfterSeconds: 7,
      instance,
    }),
    new Rad69ServerError("Server error", {
      code: "XDSRepositoryError",
      context: "Disk on fire",
      location: "1.2.3.4",
      severity: "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error",
      instance,
    }),
    new XDSMissingDocumentError("Missing", {
      code: "XDSMissingDocument",
      context: "DICOM Object not found",
      location: "1.2.3.4",
      instance,
    }),
    new SoapFaultError("Fault", {
      code: "env:Sender",
      subcode: "wsa:MessageAddressingHeaderRequired",
      reason: "A header is missing",
      status: 400,
    }),
    new Rad69ProtocolError("Bad answer", { excerpt: "<html>" }),
    new MultipartSyntaxError("Missing boundary", 1234),
    new TruncatedResponseError("Cut", { instance, cause: network }),
    new errorClasses.DocumentNotReturnedError("Not returned", { instance }),
    new InvalidDicomError("1.2.3.4", "no DICM prefix", { instance }),
    new SopInstanceMismatchError("1.2.3.4", "1.2.3.5", { instance }),
    new LimitExceededError("maxPartSize", 1024, "Part 3"),
    network,
  ];
  samples.push(new IncompleteRetrieveError([samples[5]!, network]));
  // A class added to errors.ts later still gets a (bare) sample.
  const covered = new Set(samples.map((e) => e.constructor.name));
  for (const name of knownErrorClassNames()) {
    if (covered.has(name)) continue;
    const cls = (errorClasses as unknown as Record<string, typeof Rad69Error>)[
      name
    ]!;
    samples.push(Reflect.construct(Error, ["Bare sample"], cls) as Rad69Error);
  }
  return samples;
}

function ownFields(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    out[key] = value instanceof Error
      ? `${value.constructor.name}: ${value.message}`
      : Array.isArray(value)
      ? value.map((v) =>
        v instanceof Error ? `${v.constructor.name}: ${v.message}` : v
      )
      : value;
  }
  return out;
}

Deno.test("serializeError() and deserializeError() keep every error class and its fields through structured clone", () => {
  const samples = sampleErrors();
  assert.ok(samples.length >= 16);
  for (const error of samples) {
    const wire = structuredClone(serializeError(error));
    const back = deserializeError(wire);
    const cls = error.constructor as typeof Rad69Error;
    assert.equal(back.constructor, cls, `${error.name} keeps its class`);
    assert.ok(back instanceof cls && back instanceof Rad69Error);
    assert.ok(Error.isError?.(back) ?? true, "a real Error object");
    assert.equal(back.name, error.name);
    assert.equal(back.message, error.message);
    assert.equal(back.stack, error.stack);
    assert.deepEqual(ownFields(back), ownFields(error), error.name);
    assert.deepEqual(Object.keys(back), Object.keys(error));
  }
  // Causes and failures come back with their classes too.
  const truncated = samples.find((e) => e instanceof TruncatedResponseError)!;
  const back = deserializeError(structuredClone(serializeError(truncated)));
  assert.ok(back.cause instanceof errorClasses.Rad69NetworkError);
  assert.ok(back.cause.cause instanceof TypeError);
  assert.equal(back.cause.cause.message, "error sending request");
  const incomplete = deserializeError(
    structuredClone(
      serializeError(samples.find((e) => e instanceof IncompleteRetrieveError)),
    ),
  ) as IncompleteRetrieveError;
  assert.ok(incomplete.failures[0] instanceof XDSMissingDocumentError);
  assert.equal(
    (incomplete.failures[0] as XDSMissingDocumentError).code,
    "XDSMissingDocument",
  );
  assert.ok(incomplete.failures[1] instanceof errorClasses.Rad69NetworkError);
  assert.ok(incomplete.cause instanceof XDSMissingDocumentError);
  // The instance can be mapped back to the caller's own object.
  const mine = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
  const mapped = deserializeError(
    structuredClone(serializeError(samples[0])),
    (ref) => ref.instanceUid === mine.instanceUid ? mine : ref,
  ) as Rad69Error;
  assert.equal(mapped.instance, mine);
  // Built-ins and DOMException keep their class; other values become Errors.
  const abort = deserializeError(
    structuredClone(serializeError(new DOMException("Stop", "AbortError"))),
  );
  assert.ok(abort instanceof DOMException);
  assert.equal(abort.name, "AbortError");
  const range = deserializeError(
    structuredClone(serializeError(new RangeError("Too big"))),
  );
  assert.equal(range.constructor, RangeError);
  const text = deserializeError(structuredClone(serializeError("plain")));
  assert.equal(text.message, "plain");
});

Deno.test("toWorkerJobOptions() keeps only structured-cloneable options", () => {
  const options = toWorkerJobOptions(
    resolveExchangeConfig({
      url: "http://127.0.0.1/rad69",
      headers: { Authorization: "Bearer secret" },
      fetch: globalThis.fetch,
      signal: new AbortController().signal,
      logger: { warn() {}, debug() {} },
      onBytes() {},
      retries: 2,
      transferSyntaxes: ["1.2.840.10008.1.2.1"],
      mtom: true,
    }),
    { tls: { caCerts: ["PEM"] }, prefetch: 4 },
  );
  const { settings, ...rest } = structuredClone(options);
  assert.deepEqual(
    {
      url: settings.url,
      headers: settings.headers,
      retries: settings.retries,
      transferSyntaxes: settings.transferSyntaxes,
      mtom: settings.mtom,
    },
    {
      url: "http://127.0.0.1/rad69",
      headers: [["authorization", "Bearer secret"]],
      retries: 2,
      transferSyntaxes: ["1.2.840.10008.1.2.1"],
      mtom: true,
    },
  );
  assert.deepEqual(rest, {
    tls: { caCerts: ["PEM"] },
    logLevels: ["debug", "warn"],
    reportAttempts: false,
    reportBytes: true,
    prefetch: 4,
  });
});

Deno.test("Rad69Client rejects invalid concurrency options", () => {
  for (const concurrency of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () =>
        new Rad69Client({
          workers: true,
          url: "http://127.0.0.1/",
          concurrency,
        }),
      RangeError,
    );
  }
  assert.throws(
    () =>
      new Rad69Client({
        url: "http://127.0.0.1/",
        ordered: "yes" as unknown as boolean,
      }),
    TypeError,
  );
});

Deno.test('Rad69Client with workers: "auto" uses workers only on 4+ cores', async () => {
  await trackingWorkers(async (_live, spawned) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const client = new Rad69Client({
      url: server.url,
      concurrency: 2,
      workers: "auto",
      logger: {},
    });
    const got = await collect(client.retrieve(REFS));
    assert.equal(uids(got, "delivered").length, REFS.length);
    const cores = navigator.hardwareConcurrency ?? 1;
    // On 4+ cores workers are allowed (warm start may still finish a short
    // plan before they load); below that none may be created.
    if (cores < 4) {
      assert.equal(spawned(), 0, "the main thread on a small machine");
    }
  });
  assert.throws(
    () =>
      new Rad69Client({
        url: "http://127.0.0.1/",
        // deno-lint-ignore no-explicit-any
        workers: "sometimes" as any,
      }),
    TypeError,
  );
});

Deno.test("WorkerPool.prestart() waits while its spawn gate says no, then starts", async () => {
  await trackingWorkers(async (_live, spawned) => {
    let open = false;
    let asked = 0;
    using pool = new WorkerPool({
      size: 1,
      spawnGate: () => {
        asked++;
        return open;
      },
    });
    pool.prestart(1, 0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.ok(asked >= 2, `the gate was asked again (${asked} times)`);
    assert.equal(spawned(), 0, "no worker while the gate is closed");
    assert.equal(pool.starting, 1, "the start is only postponed");
    open = true;
    const deadline = Date.now() + 5000;
    while (spawned() === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(spawned(), 1, "the worker starts once the gate opens");
  });
});

Deno.test("Rad69Client by default starts workers for a latency-bound call (idle CPU) on 4+ cores only", async () => {
  await trackingWorkers(async (_live, spawned) => {
    await using server = await FakeRad69Server.start({
      instances: STUDY,
      plan: { latencyMs: 300 },
    });
    const client = new Rad69Client({
      url: server.url,
      concurrency: 2,
      logger: quiet,
    });
    const got = await collect(client.retrieve(REFS));
    assertDeliveredBytes(got);
    assert.equal(uids(got, "delivered").length, REFS.length);
    // The rule (README, "Concurrency"): workers by themselves only on 4+
    // logical cores, and there while a core is idle; below, the main thread.
    if ((navigator.hardwareConcurrency ?? 1) >= 4) {
      assert.ok(spawned() > 0, "a worker was started while the CPU was idle");
    } else {
      assert.equal(spawned(), 0, "no worker on a machine under 4 cores");
    }
  });
});
