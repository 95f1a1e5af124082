/**
 * The fault suite: every fault the fake server can inject, over real
 * loopback HTTP, with both delimiter engines. Each scenario checks the
 * invariant of `_utils/fault_invariants.ts` (delivered ∪ failed = requested,
 * delivered bytes identical to the source, typed errors, no hang) and, where
 * it matters, which requests were sent again.
 */

import assert from "node:assert/strict";
import {
  buildRetrieveRequest,
  InvalidDicomError,
  LimitExceededError,
  MultipartSyntaxError,
  Rad69Client,
  type Rad69ClientOptions,
  Rad69Error,
  Rad69HttpError,
  Rad69NetworkError,
  Rad69ProtocolError,
  SoapFaultError,
  SopInstanceMismatchError,
  TruncatedResponseError,
} from "../mod.ts";
import {
  type FakeDialect,
  FakeRad69Server,
  type FaultPlan,
  syntheticStudy,
} from "../src/testing/mod.ts";
import {
  assertCleanOutputDir,
  assertInvariant,
  type ErrorClass,
  type FaultRun,
  fetchAnswer,
  indexesOf,
  runRetrieve,
  SeededRandom,
} from "./_utils/fault_invariants.ts";
import { refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const ENGINES = ["wasm", "ts"] as const;
const STUDY = syntheticStudy({
  series: 1,
  instancesPerSeries: 4,
  pixelBytes: 2048,
});
const REFS = refsOf(STUDY);
const SOURCES = new Map(STUDY.map((i) => [i.instanceUid, i.bytes]));
const UIDS = REFS.map((r) => r.instanceUid);
const quiet = {};
const enc = new TextEncoder();

function client(
  server: FakeRad69Server,
  options: Partial<Rad69ClientOptions> = {},
): Rad69Client {
  return new Rad69Client({
    url: server.url,
    retries: 0,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 20,
    logger: quiet,
    ...options,
  });
}

async function probe(server: FakeRad69Server) {
  const answer = await fetchAnswer(
    server.url,
    buildRetrieveRequest(REFS, { url: server.url }),
  );
  server.clearRequests();
  return answer;
}

function sortedRequestUids(server: FakeRad69Server, index: number): string[] {
  return [...server.requests[index]!.documentUniqueIds].sort();
}

/** Runs one enqueued plan and checks the invariant. */
async function runPlan(
  server: FakeRad69Server,
  options: Partial<Rad69ClientOptions>,
  plans: FaultPlan[],
): Promise<FaultRun> {
  server.clearRequests();
  server.enqueue(...plans);
  const run = await runRetrieve(client(server, options), REFS);
  assert.equal(server.pendingPlans, 0, "every queued plan was used");
  return run;
}

Deno.test({
  name:
    "Rad69Client never delivers a corrupt instance when the body is cut at seeded random offsets, inside every delimiter",
  timeout: 60_000,
  async fn(t) {
    for (const dialect of ["cxf", "vitrea"] as FakeDialect[]) {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        dialect,
      });
      const answer = await probe(server);
      const delimiter = enc.encode(`\r\n--${answer.boundary}`);
      const size = answer.body.length;
      const offsets = new Set<number>([0, 1, size - 1, size - 2]);
      for (const at of indexesOf(answer.body, delimiter)) {
        const n = delimiter.length;
        for (const k of [0, 1, 2, 3, n >> 1, n - 1, n, n + 1, n + 2]) {
          offsets.add(at + k);
        }
      }
      const random = new SeededRandom(0x5eed + size);
      for (let i = 0; i < 16; i++) offsets.add(random.int(size));
      for (const mode of ["reset", "abort", "end"] as const) {
        for (const engine of ENGINES) {
          await t.step(`${dialect} / ${mode} / ${engine}`, async () => {
            let someDelivered = false;
            let someFailed = false;
            for (const at of [...offsets].sort((a, b) => a - b)) {
              const run = await runPlan(server, { engine }, [
                { truncate: { at, mode } },
              ]);
              assertInvariant(run, REFS, SOURCES, {
                errors: [Rad69NetworkError, TruncatedResponseError],
              });
              someDelivered ||= run.delivered.size > 0;
              someFailed ||= run.failed.size > 0;
              assert.equal(server.requests.length, 1, "retries: 0");
            }
            assert.ok(someDelivered && someFailed);
          });
        }
      }
    }
  },
});

Deno.test({
  name:
    "Rad69Client delivers everything through 1-byte and 3-byte writes, in both engines",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    for (const engine of ENGINES) {
      for (const chunkSize of [1, 3]) {
        const run = await runPlan(server, { engine }, [{ chunkSize }]);
        assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
      }
    }
  },
});

Deno.test({
  name:
    "Rad69Client retries a reset after two parts and re-requests only the instances not delivered",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const answer = await probe(server);
    const delimiter = enc.encode(`\r\n--${answer.boundary}`);
    // Delimiter k opens part k (the root is part 0) and closes part k - 1.
    // Cut 10 bytes into the headers of part 3: root, parts 1 and 2 whole.
    const at = indexesOf(answer.body, delimiter)[3]! + delimiter.length + 10;
    for (const engine of ENGINES) {
      for (const mode of ["reset", "end"] as const) {
        const run = await runPlan(server, { engine, retries: 2 }, [
          { truncate: { at, mode } },
          {},
        ]);
        assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
        assert.equal(server.requests.length, 2);
        const first = run.outcomes.slice(0, run.attempts[0]!.delivered).map(
          (o) => o.ref.instanceUid,
        );
        // A reset may also drop bytes already received but not yet read
        // (the fetch body errors at once), so only a clean end is exact.
        if (mode === "end") {
          assert.equal(first.length, 2, "two instances came before the cut");
        }
        assert.deepEqual(
          sortedRequestUids(server, 1),
          UIDS.filter((u) => !first.includes(u)).sort(),
        );
        assert.deepEqual(
          run.attempts.map((a) => a.retrying),
          [REFS.length - first.length, 0],
        );
        assert.ok(
          run.attempts[0]!.transientError instanceof Rad69NetworkError ||
            run.attempts[0]!.transientError instanceof TruncatedResponseError,
        );
      }
    }
  },
});

Deno.test({
  name:
    "Rad69Client retries transient HTTP statuses (408, 429, 502, 503, 504) and nothing else",
  timeout: 30_000,
  async fn(t) {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    for (const status of [408, 429, 502, 503, 504]) {
      await t.step(`HTTP ${status} then success`, async () => {
        for (const engine of ENGINES) {
          const run = await runPlan(server, { engine, retries: 3 }, [
            { http: { status, body: "busy" } },
            {},
          ]);
          assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
          assert.equal(server.requests.length, 2);
          assert.deepEqual(sortedRequestUids(server, 1), [...UIDS].sort());
          const error = run.attempts[0]!.transientError;
          assert.ok(error instanceof Rad69HttpError && error.status === status);
        }
      });
    }
    for (const status of [400, 401, 403, 404, 415, 500, 501]) {
      await t.step(`HTTP ${status} is permanent`, async () => {
        const run = await runPlan(server, { retries: 3 }, [
          { http: { status, body: "no" } },
        ]);
        assertInvariant(run, REFS, SOURCES, {
          delivered: 0,
          errors: [Rad69HttpError],
        });
        assert.equal(server.requests.length, 1, "not retried");
        for (const e of run.failed.values()) {
          assert.equal((e as Rad69HttpError).status, status);
        }
      });
    }
  },
});

Deno.test({
  name:
    "Rad69Client never retries SOAP Sender faults; a Receiver fault is retried only with a transient status",
  timeout: 30_000,
  async fn(t) {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    for (const status of [400, 500, 503]) {
      await t.step(`Sender fault at HTTP ${status}`, async () => {
        const run = await runPlan(server, { retries: 3 }, [
          { soapFault: { code: "Sender", reason: "Bad request", status } },
        ]);
        assertInvariant(run, REFS, SOURCES, {
          delivered: 0,
          errors: [SoapFaultError],
        });
        assert.equal(server.requests.length, 1);
      });
    }
    await t.step("Receiver fault at HTTP 500 is permanent", async () => {
      const run = await runPlan(server, { retries: 3 }, [
        { soapFault: { code: "Receiver", reason: "NullPointerException" } },
      ]);
      assertInvariant(run, REFS, SOURCES, {
        delivered: 0,
        errors: [SoapFaultError],
      });
      assert.equal(server.requests.length, 1);
    });
    for (const multipart of [false, true]) {
      await t.step(
        `Receiver fault at HTTP 503 (multipart ${multipart}) is retried`,
        async () => {
          const run = await runPlan(server, { retries: 3 }, [
            {
              soapFault: {
                code: "Receiver",
                reason: "Overloaded",
                status: 503,
                multipart,
              },
            },
            {},
          ]);
          assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
          assert.equal(server.requests.length, 2);
          const error = run.attempts[0]!.transientError;
          assert.ok(error instanceof SoapFaultError, String(error));
          assert.equal(error.status, 503);
          assert.match(error.reason, /Overloaded/);
        },
      );
    }
  },
});

Deno.test({
  name:
    "Rad69Client waits at least Retry-After before retrying, capped by retryMaxDelayMs",
  timeout: 30_000,
  async fn(t) {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    await t.step("Retry-After: 1 (seconds)", async () => {
      const started = performance.now();
      const run = await runPlan(server, {
        retries: 1,
        retryBaseDelayMs: 1,
        retryMaxDelayMs: 5_000,
      }, [{ http: { status: 503, headers: { "retry-after": "1" } } }, {}]);
      const elapsed = performance.now() - started;
      assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
      assert.ok(
        run.attempts[0]!.delayMs >= 1000,
        `${run.attempts[0]!.delayMs}`,
      );
      // A lower bound only: timers never fire early by more than a tick.
      assert.ok(elapsed >= 990, `retried after ${elapsed} ms`);
    });
    await t.step("Retry-After as an HTTP date", async () => {
      const date = new Date(Date.now() + 3_000).toUTCString();
      const run = await runPlan(server, {
        retries: 1,
        retryBaseDelayMs: 1,
        retryMaxDelayMs: 300,
      }, [{ http: { status: 429, headers: { "retry-after": date } } }, {}]);
      assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
      assert.equal(run.attempts[0]!.delayMs, 300, "capped at retryMaxDelayMs");
    });
    await t.step("Retry-After: 3600 capped by retryMaxDelayMs", async () => {
      const run = await runPlan(server, {
        retries: 1,
        retryBaseDelayMs: 1,
        retryMaxDelayMs: 20,
      }, [{ http: { status: 503, headers: { "retry-after": "3600" } } }, {}]);
      assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
      assert.ok(run.attempts[0]!.delayMs <= 20);
    });
    await t.step("a Retry-After on a 503 SOAP Fault is honoured", async () => {
      const run = await runPlan(server, {
        retries: 1,
        retryBaseDelayMs: 1,
        retryMaxDelayMs: 250,
      }, [{
        soapFault: { code: "Receiver", status: 503 },
        responseHeaders: { "retry-after": "1" },
      }, {}]);
      assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
      assert.ok(run.attempts[0]!.transientError instanceof SoapFaultError);
      assert.equal(run.attempts[0]!.delayMs, 250, "Retry-After, capped");
    });
  },
});

Deno.test({
  name:
    "Rad69Client retries an idle stall, and does not kill a slow but moving transfer",
  timeout: 30_000,
  async fn(t) {
    for (const dialect of ["cxf", "inline"] as FakeDialect[]) {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        dialect,
      });
      const answer = await probe(server);
      for (const engine of ENGINES) {
        await t.step(`${dialect} / ${engine}: stall then success`, async () => {
          const run = await runPlan(server, {
            engine,
            retries: 1,
            idleTimeoutMs: 300,
          }, [{ stall: { at: answer.body.length >> 1 } }, {}]);
          assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
          assert.equal(server.requests.length, 2);
          const error = run.attempts[0]!.transientError;
          assert.ok(error instanceof Rad69NetworkError);
          assert.match(error.message, /stalled: no data for 300 ms/);
        });
        await t.step(`${dialect} / ${engine}: slow but moving`, async () => {
          // About 0.6 s in all, one 256-byte write every ~12 ms: both
          // timeouts are half the whole, and 25 times a gap.
          const bytesPerSecond = Math.ceil(answer.body.length / 0.6);
          const run = await runPlan(server, {
            engine,
            retries: 0,
            idleTimeoutMs: 300,
            timeoutMs: 300,
          }, [{ bytesPerSecond, chunkSize: 256 }]);
          assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
          assert.equal(server.requests.length, 1);
        });
      }
    }
  },
});

Deno.test({
  name:
    "Rad69Client reports a first-byte timeout as a Rad69NetworkError and retries it",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const run = await runPlan(server, { retries: 1, timeoutMs: 500 }, [
      { latencyMs: 5_000 },
      {},
    ]);
    assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
    assert.equal(server.requests.length, 2);
    const error = run.attempts[0]!.transientError;
    assert.ok(error instanceof Rad69NetworkError);
    assert.match(error.message, /no response headers within 500 ms/);
    const once = await runPlan(server, { retries: 0, timeoutMs: 200 }, [
      { latencyMs: 5_000 },
    ]);
    assertInvariant(once, REFS, SOURCES, {
      delivered: 0,
      errors: [Rad69NetworkError],
    });
  },
});

Deno.test({
  name:
    "Rad69Client fails every instance with a LimitExceededError, without retrying, for a huge root part or part",
  timeout: 30_000,
  async fn(t) {
    for (const dialect of ["cxf", "inline"] as FakeDialect[]) {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        dialect,
      });
      for (const engine of ENGINES) {
        await t.step(`${dialect} / ${engine}: maxRootPartSize`, async () => {
          const run = await runPlan(server, {
            engine,
            retries: 3,
            maxRootPartSize: 100_000,
          }, [{ rootPadding: 1_000_000 }]);
          assertInvariant(run, REFS, SOURCES, {
            delivered: 0,
            errors: [LimitExceededError],
          });
          for (const e of run.failed.values()) {
            assert.equal((e as LimitExceededError).limit, "maxRootPartSize");
            assert.equal((e as LimitExceededError).max, 100_000);
          }
          assert.equal(server.requests.length, 1, "permanent");
          const fits = await runPlan(server, {
            engine,
            maxRootPartSize: 2_000_000,
          }, [{ rootPadding: 1_000_000 }]);
          assertInvariant(fits, REFS, SOURCES, { delivered: REFS.length });
        });
      }
    }
    await using server = await FakeRad69Server.start({ instances: STUDY });
    for (const engine of ENGINES) {
      await t.step(`maxPartSize / ${engine}`, async () => {
        const run = await runPlan(server, {
          engine,
          retries: 3,
          maxPartSize: 2_000,
        }, [{ chunkSize: 512 }]);
        assertInvariant(run, REFS, SOURCES, {
          delivered: 0,
          errors: [LimitExceededError],
        });
        for (const e of run.failed.values()) {
          assert.equal((e as LimitExceededError).limit, "maxPartSize");
        }
        assert.equal(server.requests.length, 1, "permanent");
      });
    }
  },
});

/** A hand-made multipart answer: a root part then raw parts. */
function handMade(
  boundary: string,
  parts: { headers: string; body: string | Uint8Array }[],
): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    chunks.push(enc.encode(`\r\n--${boundary}\r\n${part.headers}\r\n\r\n`));
    chunks.push(
      typeof part.body === "string" ? enc.encode(part.body) : part.body,
    );
  }
  chunks.push(enc.encode(`\r\n--${boundary}--\r\n`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test({
  name:
    "Rad69Client rejects oversized part headers, too many headers and a boundary over 70 characters, without retrying",
  timeout: 30_000,
  async fn(t) {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const cases: {
      name: string;
      plan: FaultPlan;
      errors: ErrorClass[];
      message?: RegExp;
    }[] = [
      {
        name: "header section over maxHeaderBytes",
        plan: {
          contentType: "multipart/related; boundary=b1",
          garbage: handMade("b1", [{
            headers: `Content-Type: text/xml\r\nX-Junk: ${"j".repeat(20_000)}`,
            body: "<x/>",
          }]),
        },
        errors: [LimitExceededError],
      },
      {
        name: "endless header section",
        plan: {
          contentType: "multipart/related; boundary=b1",
          garbage: enc.encode(`--b1\r\nX: ${"k".repeat(100_000)}`),
        },
        errors: [LimitExceededError],
      },
      {
        name: "more header fields than maxHeaderCount",
        plan: {
          contentType: "multipart/related; boundary=b1",
          garbage: handMade("b1", [{
            headers: Array.from({ length: 100 }, (_, i) => `X-${i}: ${i}`)
              .join("\r\n"),
            body: "<x/>",
          }]),
        },
        errors: [MultipartSyntaxError],
      },
      {
        name: "boundary of 71 characters",
        plan: {
          contentType: `multipart/related; boundary="${"z".repeat(71)}"`,
          garbage: handMade("z".repeat(71), [{ headers: "A: b", body: "c" }]),
        },
        errors: [MultipartSyntaxError],
      },
      {
        name: "more parts before the root than instances requested",
        plan: {
          contentType: 'multipart/related; boundary=b1; start="<root@x>"',
          garbage: handMade(
            "b1",
            Array.from({ length: 40 }, (_, i) => ({
              headers: `Content-ID: <p${i}@x>`,
              body: "x".repeat(100),
            })),
          ),
        },
        errors: [Rad69ProtocolError],
        message: /more than 12 parts before its SOAP root part/,
      },
      {
        name: "multipart without a boundary",
        plan: { contentType: "multipart/related", garbage: "x" },
        errors: [MultipartSyntaxError],
      },
    ];
    for (const c of cases) {
      for (const engine of ENGINES) {
        await t.step(`${c.name} / ${engine}`, async () => {
          const run = await runPlan(server, { engine, retries: 3 }, [c.plan]);
          assertInvariant(run, REFS, SOURCES, {
            delivered: 0,
            errors: c.errors,
          });
          assert.equal(server.requests.length, 1, "permanent");
          if (c.message) {
            for (const e of run.failed.values()) {
              assert.match(e.message, c.message);
            }
          }
        });
      }
    }
  },
});

Deno.test({
  name:
    "Rad69Client fails garbage under a multipart Content-Type as a permanent protocol error",
  timeout: 30_000,
  async fn(t) {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const garbage = {
      "an HTML page": "<html><body>Internal error</body></html>",
      "binary noise": crypto.getRandomValues(new Uint8Array(5000)),
      "JSON": '{"error":"nope"}',
    };
    for (const [name, body] of Object.entries(garbage)) {
      for (const engine of ENGINES) {
        await t.step(`${name} / ${engine}`, async () => {
          const run = await runPlan(server, { engine, retries: 3 }, [
            { garbage: body },
          ]);
          assertInvariant(run, REFS, SOURCES, {
            delivered: 0,
            errors: [MultipartSyntaxError],
          });
          assert.equal(server.requests.length, 1, "not retried");
          const error = [...run.failed.values()][0]!;
          assert.match(error.message, /no delimiter|boundary/);
        });
      }
    }
    await t.step("an empty body is a transient truncation", async () => {
      const run = await runPlan(server, { retries: 1 }, [{ garbage: "" }, {}]);
      assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
      assert.equal(server.requests.length, 2);
      assert.ok(
        run.attempts[0]!.transientError instanceof TruncatedResponseError,
      );
    });
  },
});

Deno.test({
  name:
    "Rad69Client accounts for duplicate and unknown Content-IDs, swapped instances and non-DICOM parts",
  timeout: 30_000,
  async fn(t) {
    for (const dialect of ["cxf", "wcf", "vitrea"] as FakeDialect[]) {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        dialect,
      });
      const cases: {
        name: string;
        plan: FaultPlan;
        failed: string[];
        errors: ErrorClass[];
      }[] = [
        {
          name: "duplicate Content-ID",
          plan: { duplicateContentIds: true },
          failed: [UIDS[1]!],
          errors: [Rad69ProtocolError],
        },
        {
          name: "unknown Content-ID",
          plan: { unknownContentId: true },
          failed: [UIDS[3]!],
          errors: [Rad69ProtocolError],
        },
        {
          name: "swapped instance",
          plan: { swap: { [UIDS[0]!]: UIDS[2]! } },
          failed: [UIDS[0]!],
          errors: [SopInstanceMismatchError],
        },
        {
          name: "non-DICOM parts",
          plan: { notDicom: [UIDS[1]!, UIDS[2]!] },
          failed: [UIDS[1]!, UIDS[2]!],
          errors: [InvalidDicomError],
        },
      ];
      for (const c of cases) {
        for (const engine of ENGINES) {
          await t.step(`${dialect} / ${c.name} / ${engine}`, async () => {
            const run = await runPlan(server, { engine, retries: 3 }, [
              c.plan,
            ]);
            assertInvariant(run, REFS, SOURCES, {
              delivered: REFS.length - c.failed.length,
              errors: c.errors,
            });
            assert.deepEqual([...run.failed.keys()].sort(), c.failed.sort());
            assert.equal(server.requests.length, 1, "permanent: not retried");
          });
        }
      }
    }
  },
});

Deno.test({
  name:
    "Rad69Client keeps the invariant when faults repeat on every attempt until retries run out",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const answer = await probe(server);
    const delimiter = enc.encode(`\r\n--${answer.boundary}`);
    // 10 bytes into the headers of part 2: the root and part 1 whole.
    const at = indexesOf(answer.body, delimiter)[2]! + delimiter.length + 10;
    for (const engine of ENGINES) {
      // Every attempt is cut (cleanly) after the first part it sends.
      const run = await runPlan(server, { engine, retries: 2 }, [
        { truncate: { at, mode: "end" } },
        { truncate: { at, mode: "end" } },
        { truncate: { at, mode: "end" } },
      ]);
      assertInvariant(run, REFS, SOURCES, {
        delivered: 3,
        errors: [TruncatedResponseError],
      });
      assert.equal(server.requests.length, 3);
      assert.deepEqual(
        server.requests.map((r) => r.documentUniqueIds.length),
        [4, 3, 2],
      );
    }
  },
});

Deno.test({
  name:
    "Rad69Client stops promptly on abort during a stall, a latency or a backoff",
  timeout: 30_000,
  async fn(t) {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const cases: [string, FaultPlan[], Partial<Rad69ClientOptions>][] = [
      ["stall", [{ stall: { at: 3000 } }], {}],
      ["latency", [{ latencyMs: 20_000 }], {}],
      [
        "backoff",
        [{ http: { status: 503, headers: { "retry-after": "30" } } }],
        { retries: 3, retryMaxDelayMs: 60_000 },
      ],
    ];
    for (const [name, plans, options] of cases) {
      await t.step(name, async () => {
        server.clearRequests();
        server.enqueue(...plans);
        const controller = new AbortController();
        const c = client(server, { ...options, signal: controller.signal });
        const timer = setTimeout(
          () => controller.abort(new Error("user stop")),
          100,
        );
        const started = performance.now();
        try {
          await assert.rejects(runRetrieve(c, REFS), /user stop/);
        } finally {
          clearTimeout(timer);
        }
        assert.ok(performance.now() - started < 5_000, "stopped promptly");
        assert.ok(server.requests.length <= 1);
      });
    }
  },
});

Deno.test({
  name:
    "Rad69Client does not take a slow consumer for a stalled server (no idle timeout while it holds an outcome)",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    for (const engine of ENGINES) {
      server.clearRequests();
      const c = client(server, { engine, idleTimeoutMs: 100 });
      const delivered: string[] = [];
      for await (const outcome of c.retrieve(REFS)) {
        assert.equal(
          outcome.status,
          "delivered",
          String(
            outcome.status === "failed" ? outcome.error.message : "",
          ),
        );
        delivered.push(outcome.ref.instanceUid);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.deepEqual(delivered.sort(), [...UIDS].sort());
      assert.equal(server.requests.length, 1);
    }
  },
});

Deno.test({
  name:
    "Rad69Client accounts for a part completed in the same chunk as a fatal error",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const answer = await probe(server);
    const delimiter = enc.encode(`\r\n--${answer.boundary}\r\n`);
    // Oversized headers on part 2: the root and part 1 come whole, in the
    // same chunk as the failure.
    const at = indexesOf(answer.body, delimiter)[2]! + delimiter.length;
    const junk = enc.encode(`X-Junk: ${"j".repeat(20_000)}\r\n`);
    const body = new Uint8Array(answer.body.length + junk.length);
    body.set(answer.body.subarray(0, at));
    body.set(junk, at);
    body.set(answer.body.subarray(at), at + junk.length);
    for (const engine of ENGINES) {
      const run = await runPlan(server, { engine, retries: 3 }, [
        { garbage: body, contentType: answer.contentType },
      ]);
      assertInvariant(run, REFS, SOURCES, {
        delivered: 1,
        errors: [LimitExceededError],
      });
      assert.equal(server.requests.length, 1);
    }
  },
});

Deno.test({
  name:
    "downloadInstances() leaves only complete, byte-identical files whatever the fault, and none after an abort",
  timeout: 60_000,
  async fn(t) {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const answer = await probe(server);
    const random = new SeededRandom(0xd15c);
    const plans: [string, FaultPlan[]][] = [];
    for (let i = 0; i < 6; i++) {
      const at = random.int(answer.body.length);
      plans.push([`reset at ${at}`, [{ truncate: { at, mode: "reset" } }]]);
      plans.push([`clean end at ${at}`, [{ truncate: { at, mode: "end" } }]]);
    }
    plans.push(["garbage", [{ garbage: "<html>oops</html>" }]]);
    plans.push(["swapped and not DICOM", [{
      swap: { [UIDS[0]!]: UIDS[1]! },
      notDicom: [UIDS[2]!],
    }]]);
    plans.push(["503 then reset then success", [
      { http: { status: 503 } },
      { truncate: { at: answer.body.length >> 1, mode: "reset" } },
      {},
    ]]);
    for (const [name, queued] of plans) {
      for (const engine of ENGINES) {
        await t.step(`${name} / ${engine}`, async () => {
          const dir = await Deno.makeTempDir({ prefix: "rad69-fault-" });
          try {
            server.clearRequests();
            server.enqueue(...queued);
            const c = client(server, { engine, retries: queued.length - 1 });
            const report = await c.download(REFS, dir);
            assert.equal(server.pendingPlans, 0);
            assert.equal(report.entries.length, REFS.length);
            const files = await assertCleanOutputDir(dir, SOURCES);
            const delivered = report.entries.filter((e) =>
              e.status === "delivered"
            ).map((e) => e.ref.instanceUid).sort();
            assert.deepEqual(files, delivered, "a file per delivered entry");
            for (const e of report.entries) {
              if (e.status === "failed") {
                assert.ok(e.error instanceof Rad69Error, e.reason);
              }
            }
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        });
      }
    }
    await t.step("abort during a stall", async () => {
      const dir = await Deno.makeTempDir({ prefix: "rad69-fault-" });
      try {
        server.clearRequests();
        const delimiter = enc.encode(`\r\n--${answer.boundary}`);
        // Stall inside part 3: parts 1 and 2 are written first.
        const at = indexesOf(answer.body, delimiter)[3]! + 200;
        server.enqueue({ stall: { at }, chunkSize: 512 });
        const controller = new AbortController();
        // Should the abort not come, the stall fails the download instead.
        const c = client(server, { idleTimeoutMs: 10_000 });
        const download = c.download(REFS, dir, {
          signal: controller.signal,
          onProgress: (p) => {
            if (p.entry?.status === "delivered" && p.delivered >= 2) {
              controller.abort(new Error("user stop"));
            }
          },
        });
        await assert.rejects(download, /user stop/);
        const files = await assertCleanOutputDir(dir, SOURCES);
        assert.ok(files.length <= 2, `${files.length} files`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "Rad69Client logs every attempt and its outcome at debug level",
  timeout: 30_000,
  async fn() {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    server.enqueue({ http: { status: 503 } }, {});
    const lines: string[] = [];
    const c = client(server, {
      retries: 1,
      logger: {
        debug: (m) => lines.push(`debug ${m}`),
        warn: (m) => lines.push(`warn ${m}`),
      },
    });
    const run = await runRetrieve(c, REFS);
    assertInvariant(run, REFS, SOURCES, { delivered: REFS.length });
    const text = lines.join("\n");
    assert.match(
      text,
      /debug POST http:\/\/127\.0\.0\.1:\d+\/rad69: 4 instance/,
    );
    assert.match(text, /debug HTTP 503 from /);
    assert.match(
      text,
      /debug Attempt 1: 4 requested, 0 delivered, 0 failed, 4 to retry/,
    );
    assert.match(
      text,
      /warn Retrying 4 instance\(s\) in \d+ ms \(attempt 2 of 2\) after: Server at .* HTTP 503/,
    );
    assert.match(
      text,
      /debug Attempt 2: 4 requested, 4 delivered, 0 failed, 0 to retry/,
    );
    assert.deepEqual(
      run.attempts.map((a) => [a.attempt, a.delivered, a.retrying]),
      [[1, 0, 4], [2, 4, 0]],
    );
  },
});

Deno.test({
  name:
    "Rad69Client with concurrent workers stops promptly on abort and keeps the invariant on resets",
  timeout: 30_000,
  async fn() {
    const study = syntheticStudy({
      series: 3,
      instancesPerSeries: 2,
      pixelBytes: 1024,
    });
    const refs = refsOf(study);
    const sources = new Map(study.map((i) => [i.instanceUid, i.bytes]));
    await using server = await FakeRad69Server.start({ instances: study });
    server.enqueue(
      { truncate: { at: 3000, mode: "reset" } },
      { truncate: { at: 100, mode: "end" } },
      {},
    );
    const c = client(server, { concurrency: 2, workers: true });
    const run = await runRetrieve(c, refs);
    assertInvariant(run, refs, sources, {
      errors: [Rad69NetworkError, TruncatedResponseError],
    });
    server.enqueue({ stall: { at: 2000 } }, { stall: { at: 2000 } });
    const controller = new AbortController();
    const stopping = client(server, {
      concurrency: 2,
      workers: true,
      signal: controller.signal,
    });
    const timer = setTimeout(
      () => controller.abort(new Error("user stop")),
      200,
    );
    try {
      await assert.rejects(runRetrieve(stopping, refs), /user stop/);
    } finally {
      clearTimeout(timer);
    }
  },
});
