import assert from "node:assert/strict";
import {
  DocumentNotReturnedError,
  IncompleteRetrieveError,
  InvalidDicomError,
  InvalidUidError,
  NonInstanceParameterError,
  Rad69Client,
  Rad69HttpError,
  Rad69NetworkError,
  Rad69ProtocolError,
  Rad69ServerError,
  SoapFaultError,
  SopInstanceMismatchError,
  TruncatedResponseError,
  XDSMissingDocumentError,
} from "../mod.ts";
import { buildRetrieveRequest } from "../mod.ts";
import type { InstanceOutcome, InstanceReference } from "../mod.ts";
import {
  buildDicomInstance,
  type FakeDialect,
  FakeRad69Server,
  syntheticStudy,
} from "../src/testing/mod.ts";
import { collect, refsOf, sameBytes } from "./_utils/refs.ts";

const STUDY = syntheticStudy({ series: 2, instancesPerSeries: 3 });
const REFS = refsOf(STUDY);
const BYTES = new Map(STUDY.map((i) => [i.instanceUid, i.bytes]));
const UNKNOWN = {
  studyUid: STUDY[0]!.studyUid,
  seriesUid: STUDY[0]!.seriesUid,
  instanceUid: "1.2.3.999999",
};
const quiet = {};

/** The byte size of the whole answer to a request for `refs`. */
async function answerSize(
  url: string,
  refs: readonly InstanceReference[],
): Promise<number> {
  const request = buildRetrieveRequest(refs, { url });
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": request.contentType },
    body: request.body as Uint8Array<ArrayBuffer>,
  });
  return (await response.bytes()).length;
}

function assertDelivered(
  instances: { ref: { instanceUid: string }; bytes: Uint8Array }[],
) {
  for (const instance of instances) {
    const source = BYTES.get(instance.ref.instanceUid);
    assert.ok(source, `unexpected instance ${instance.ref.instanceUid}`);
    assert.ok(
      sameBytes(instance.bytes, source),
      `bytes of ${instance.ref.instanceUid} differ from the source`,
    );
  }
}

function summary(outcomes: InstanceOutcome[]) {
  return {
    delivered: outcomes.filter((o) => o.status === "delivered").map((o) =>
      o.ref.instanceUid
    ).sort(),
    failed: outcomes.filter((o) => o.status === "failed").map((o) =>
      o.ref.instanceUid
    ).sort(),
  };
}

const DIALECTS: FakeDialect[] = [
  "cxf",
  "vitrea",
  "nist",
  "axis2",
  "wcf",
  "form-data",
  "inline",
];

Deno.test("Rad69Client.datasets() delivers every instance byte-identical in every server dialect", async (t) => {
  for (const dialect of DIALECTS) {
    for (const engine of ["wasm", "ts"] as const) {
      await t.step(`${dialect} / ${engine}`, async () => {
        await using server = await FakeRad69Server.start({
          instances: STUDY,
          dialect,
        });
        const client = new Rad69Client({
          url: server.url,
          engine,
          logger: quiet,
        });
        const got = await collect(client.datasets(REFS));
        assert.equal(got.length, REFS.length);
        assertDelivered(got);
        assert.deepEqual(
          got.map((i) => i.ref.instanceUid).sort(),
          REFS.map((r) => r.instanceUid).sort(),
        );
        assert.equal(server.requests.length, 2, "one request per series");
      });
    }
  }
});

Deno.test("Rad69Client.getDataset() returns the parsed dataset", async () => {
  const bytes = buildDicomInstance({
    studyUid: "1.2.3",
    seriesUid: "1.2.3.4",
    instanceUid: "1.2.3.4.5",
    patientName: "Jim",
  });
  await using server = await FakeRad69Server.start({ instances: [bytes] });
  const client = new Rad69Client({ url: server.url });
  const instance = await client.getDataset({
    studyUid: "1.2.3",
    seriesUid: "1.2.3.4",
    instanceUid: "1.2.3.4.5",
  });
  assert.equal(instance.dataset.string("x00100010"), "Jim");
  assert.equal(instance.dataset.string("x00080018"), "1.2.3.4.5");
  assert.ok(sameBytes(instance.bytes, bytes));
});

Deno.test("Rad69Client sends no request before iteration, then one per series as iteration reaches it", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const client = new Rad69Client({ url: server.url });
  const iterable = client.datasets(REFS);
  assert.equal(server.requests.length, 0);
  const iterator = iterable[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal(first.done, false);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(server.requests[0]!.seriesUids, [STUDY[0]!.seriesUid]);
  let count = 1;
  while (!(await iterator.next()).done) count++;
  assert.equal(count, REFS.length);
  assert.equal(server.requests.length, 2);
  assert.deepEqual(server.requests[1]!.seriesUids, [STUDY[3]!.seriesUid]);
});

Deno.test("Rad69Client with requestPerSeries false sends one request; maxInstancesPerRequest bins", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const one = new Rad69Client({ url: server.url, requestPerSeries: false });
  assert.equal((await collect(one.datasets(REFS))).length, 6);
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0]!.documentUniqueIds.length, 6);
  assert.deepEqual(server.requests[0]!.seriesUids.length, 2);
  const bins = new Rad69Client({
    url: server.url,
    requestPerSeries: false,
    maxInstancesPerRequest: 4,
  });
  assert.equal((await collect(bins.datasets(REFS))).length, 6);
  assert.deepEqual(
    server.requests.slice(1).map((r) => r.documentUniqueIds.length),
    [4, 2],
  );
});

Deno.test("Rad69Client sends the configured request fields", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const client = new Rad69Client({
    url: server.url,
    repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
    homeCommunityId: "urn:oid:1.2.3.4",
    transferSyntaxes: ["1.2.840.10008.1.2.1"],
    headers: { authorization: "Bearer secret" },
  });
  await collect(client.datasets(REFS.slice(0, 2)));
  const request = server.requests[0]!;
  assert.equal(request.valid, true, request.validationError);
  assert.equal(request.action, "urn:ihe:rad:2009:RetrieveImagingDocumentSet");
  assert.equal(request.to, server.url);
  assert.match(request.messageId ?? "", /^urn:uuid:[0-9a-f-]{36}$/);
  assert.deepEqual(request.repositoryUniqueIds, [
    "1.3.6.1.4.1.21367.13.80.110",
  ]);
  assert.deepEqual(request.homeCommunityIds, ["urn:oid:1.2.3.4"]);
  assert.deepEqual(request.transferSyntaxes, ["1.2.840.10008.1.2.1"]);
  assert.match(
    request.contentType,
    /^application\/soap\+xml; charset=UTF-8; action="urn:ihe:rad:2009:RetrieveImagingDocumentSet"$/,
  );
  assert.equal(request.headers.get("authorization"), "Bearer secret");
  assert.deepEqual(
    request.documentUniqueIds,
    REFS.slice(0, 2).map((r) => r.instanceUid),
  );
});

Deno.test("Rad69Client with mtom sends an MTOM request that a strict server accepts", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    requireMtom: true,
  });
  const plain = new Rad69Client({ url: server.url, logger: quiet });
  await assert.rejects(
    collect(plain.datasets(REFS.slice(0, 1))),
    SoapFaultError,
  );
  const mtom = new Rad69Client({ url: server.url, mtom: true });
  assert.equal((await collect(mtom.datasets(REFS))).length, 6);
  assert.equal(server.requests.at(-1)!.mtom, true);
});

Deno.test("Rad69Client validates references before any request", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const client = new Rad69Client({ url: server.url });
  assert.throws(
    () => client.datasets([{ ...REFS[0]!, instanceUid: "1.02.3" }]),
    (e: unknown) =>
      e instanceof InvalidUidError && e.where === "references[0].instanceUid" &&
      e.uid === "1.02.3",
  );
  assert.throws(
    () => client.datasets([{ studyUid: "1.2" }]),
    NonInstanceParameterError,
  );
  assert.throws(
    () => client.datasets([{ studyUid: "1.2", seriesUid: "1.2.3" }]),
    NonInstanceParameterError,
  );
  assert.throws(
    () => client.retrieve([{ ...REFS[0]!, seriesUid: "1.2.a" }]),
    InvalidUidError,
  );
  assert.equal(server.requests.length, 0);
});

Deno.test("Rad69Client reports a missing instance as XDSMissingDocumentError after delivering the rest", async (t) => {
  for (const dialect of ["cxf", "vitrea", "nist", "inline"] as const) {
    await t.step(dialect, async () => {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        dialect,
      });
      const client = new Rad69Client({ url: server.url, logger: quiet });
      const refs = [REFS[0]!, UNKNOWN, REFS[1]!];
      const delivered: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const i of client.datasets(refs)) {
            delivered.push(i.ref.instanceUid);
          }
        })(),
        (e: unknown) =>
          (e instanceof XDSMissingDocumentError ||
            (dialect === "nist" && e instanceof DocumentNotReturnedError)) &&
          (e as XDSMissingDocumentError).instance?.instanceUid ===
            UNKNOWN.instanceUid,
      );
      assert.deepEqual(
        delivered.sort(),
        [REFS[0]!.instanceUid, REFS[1]!.instanceUid].sort(),
      );
      const ignoring = new Rad69Client({
        url: server.url,
        errorsToIgnore: [XDSMissingDocumentError, DocumentNotReturnedError],
        logger: quiet,
      });
      assert.equal((await collect(ignoring.datasets(refs))).length, 2);
      const outcomes = await collect(client.retrieve(refs));
      assert.deepEqual(summary(outcomes).failed, [UNKNOWN.instanceUid]);
    });
  }
});

Deno.test("Rad69Client reports an all-missing Failure (one-part multipart and plain SOAP) per instance", async (t) => {
  for (const dialect of ["cxf", "vitrea"] as const) {
    await t.step(dialect, async () => {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        dialect,
      });
      const client = new Rad69Client({ url: server.url, logger: quiet });
      const missing = [UNKNOWN, { ...UNKNOWN, instanceUid: "1.2.3.999998" }];
      await assert.rejects(
        client.getDataset(UNKNOWN),
        (e: unknown) =>
          e instanceof XDSMissingDocumentError &&
          e.code === "XDSMissingDocument",
      );
      await assert.rejects(
        collect(client.datasets(missing)),
        (e: unknown) =>
          e instanceof IncompleteRetrieveError && e.failures.length === 2 &&
          e.failures.every((f) => f instanceof XDSMissingDocumentError),
      );
    });
  }
});

Deno.test("Rad69Client keeps unknown error codes and surfaces warnings", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  server.enqueue({
    errors: [
      {
        code: "urn:dicom:wado:0007",
        context: "cannot transcode",
        location: REFS[0]!.instanceUid,
      },
      {
        code: "XDSRepositoryError",
        context: "coerced attributes",
        location: REFS[1]!.instanceUid,
        severity: "Warning",
      },
    ],
    omit: [REFS[0]!.instanceUid],
  });
  const client = new Rad69Client({ url: server.url, logger: quiet });
  const outcomes = await collect(client.retrieve(REFS.slice(0, 3)));
  const failed = outcomes.find((o) => o.status === "failed");
  assert.ok(failed && failed.status === "failed");
  assert.ok(failed.error instanceof Rad69ServerError);
  assert.ok(!(failed.error instanceof XDSMissingDocumentError));
  assert.equal((failed.error as Rad69ServerError).code, "urn:dicom:wado:0007");
  const warned = outcomes.find((o) =>
    o.ref.instanceUid === REFS[1]!.instanceUid
  );
  assert.ok(warned && warned.status === "delivered");
  assert.equal(warned.instance.warnings.length, 1);
  assert.equal(warned.instance.warnings[0]!.code, "XDSRepositoryError");
});

Deno.test("Rad69Client reports an instance silently omitted under Success as not returned", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    plan: { omit: [REFS[2]!.instanceUid] },
  });
  const client = new Rad69Client({ url: server.url, logger: quiet });
  const outcomes = await collect(client.retrieve(REFS.slice(0, 3)));
  const s = summary(outcomes);
  assert.deepEqual(s.failed, [REFS[2]!.instanceUid]);
  const failed = outcomes.find((o) => o.status === "failed")!;
  assert.ok(
    failed.status === "failed" &&
      failed.error instanceof DocumentNotReturnedError,
  );
});

Deno.test("Rad69Client turns SOAP Faults into SoapFaultError whatever the HTTP status", async (t) => {
  for (const status of [500, 400, 200]) {
    await t.step(`HTTP ${status}`, async () => {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        plan: {
          soapFault: {
            code: "Sender",
            subcode: "wsa:MessageAddressingHeaderRequired",
            reason:
              "A required header representing a Message Addressing Property is not present",
            status,
          },
        },
      });
      const client = new Rad69Client({ url: server.url, logger: quiet });
      await assert.rejects(client.getDataset(REFS[0]!), (e: unknown) => {
        assert.ok(e instanceof SoapFaultError);
        assert.match(e.code, /Sender/);
        assert.match(e.subcode, /MessageAddressingHeaderRequired/);
        assert.match(e.reason, /required header/);
        assert.equal(e.status, status);
        return true;
      });
    });
  }
});

Deno.test("Rad69Client turns non-SOAP HTTP errors into Rad69HttpError with status, URL and excerpt", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    plan: {
      http: {
        status: 502,
        body: "<html><body>Bad Gateway from the proxy</body></html>",
        headers: { "content-type": "text/html" },
      },
    },
  });
  const client = new Rad69Client({
    url: server.url,
    retries: 0,
    logger: quiet,
  });
  await assert.rejects(client.getDataset(REFS[0]!), (e: unknown) => {
    assert.ok(e instanceof Rad69HttpError);
    assert.equal(e.status, 502);
    assert.equal(e.url, server.url);
    assert.match(e.bodyExcerpt, /Bad Gateway from the proxy/);
    return true;
  });
});

Deno.test("Rad69Client rejects a 200 answer with a wrong or missing Content-Type, showing its first bytes", async (t) => {
  for (const contentType of ["text/html", null]) {
    await t.step(String(contentType), async () => {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        plan: { contentType, garbage: "<html>Login required</html>" },
      });
      const client = new Rad69Client({ url: server.url, logger: quiet });
      await assert.rejects(client.getDataset(REFS[0]!), (e: unknown) => {
        assert.ok(e instanceof Rad69ProtocolError);
        assert.match(e.message, /Login required/);
        return true;
      });
    });
  }
});

Deno.test("Rad69Client fails instances whose bytes are not DICOM or belong to another instance", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    plan: {
      notDicom: [REFS[0]!.instanceUid],
      swap: { [REFS[1]!.instanceUid]: REFS[2]!.instanceUid },
    },
  });
  const client = new Rad69Client({ url: server.url, logger: quiet });
  const outcomes = await collect(client.retrieve(REFS.slice(0, 3)));
  const byUid = new Map(outcomes.map((o) => [o.ref.instanceUid, o]));
  const notDicom = byUid.get(REFS[0]!.instanceUid)!;
  assert.ok(
    notDicom.status === "failed" && notDicom.error instanceof InvalidDicomError,
  );
  assert.equal(
    (notDicom.error as InvalidDicomError).documentUniqueId,
    REFS[0]!.instanceUid,
  );
  const swapped = byUid.get(REFS[1]!.instanceUid)!;
  assert.ok(
    swapped.status === "failed" &&
      swapped.error instanceof SopInstanceMismatchError,
  );
  assert.equal(
    (swapped.error as SopInstanceMismatchError).foundSopInstanceUid,
    REFS[2]!.instanceUid,
  );
  assert.equal(byUid.get(REFS[2]!.instanceUid)!.status, "delivered");
});

Deno.test("Rad69Client copes with framing variants: reordered parts, base64, extra parts, LF-only, preamble, tiny writes", async (t) => {
  const plans = {
    "reverse": { reorderParts: "reverse" },
    "shuffle": { reorderParts: "shuffle" },
    "root last": { reorderParts: "rootLast" },
    "base64 parts": { base64Parts: true },
    "extra part": { extraPart: true },
    "LF only": { lineEndings: "lf" },
    "preamble and epilogue": {
      preamble: "This is a MIME message\r\n",
      epilogue: "\r\nbye",
    },
    "1-byte writes": { chunkSize: 1 },
    "7-byte writes": { chunkSize: 7 },
    "1000-byte writes": { chunkSize: 1000 },
  } as const;
  for (const [name, plan] of Object.entries(plans)) {
    await t.step(name, async () => {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        plan,
      });
      for (const engine of ["wasm", "ts"] as const) {
        const client = new Rad69Client({
          url: server.url,
          engine,
          logger: quiet,
        });
        const got = await collect(client.datasets(REFS));
        assert.equal(got.length, 6);
        assertDelivered(got);
      }
    });
  }
});

Deno.test("Rad69Client never delivers a part cut before the closing delimiter", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const client = new Rad69Client({
    url: server.url,
    retries: 0,
    logger: quiet,
  });
  const size = await answerSize(server.url, REFS.slice(0, 3));
  const cuts = [10, 600, Math.floor(size / 2), size - 40, size - 3];
  for (const cut of cuts) {
    for (const mode of ["end", "abort"] as const) {
      await t.step(`cut at ${cut} (${mode})`, async () => {
        server.enqueue({ truncate: { at: cut, mode } });
        const outcomes = await collect(client.retrieve(REFS.slice(0, 3)));
        assert.equal(outcomes.length, 3, "every instance accounted for");
        for (const o of outcomes) {
          if (o.status === "delivered") {
            assert.ok(
              sameBytes(o.instance.bytes, BYTES.get(o.ref.instanceUid)!),
            );
          } else {
            assert.ok(
              o.error instanceof TruncatedResponseError ||
                o.error instanceof Rad69NetworkError,
              `${o.error.name}: ${o.error.message}`,
            );
          }
        }
        assert.ok(outcomes.some((o) => o.status === "failed"));
      });
    }
  }
  await t.step("missing closing delimiter", async () => {
    server.enqueue({ omitClosingDelimiter: true });
    const outcomes = await collect(client.retrieve(REFS.slice(0, 3)));
    const s = summary(outcomes);
    assert.equal(s.delivered.length, 2);
    assert.equal(s.failed.length, 1);
  });
});

Deno.test("Rad69Client retries a cut answer, re-requesting only the instances not delivered", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  server.enqueue({ omitClosingDelimiter: true });
  const attempts: number[] = [];
  const client = new Rad69Client({
    url: server.url,
    retries: 2,
    retryBaseDelayMs: 1,
    logger: quiet,
  });
  const got = await collect(
    client.datasets(REFS.slice(0, 3), {
      onAttempt: (a) => attempts.push(a.retrying),
    }),
  );
  assert.equal(got.length, 3);
  assertDelivered(got);
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[1]!.documentUniqueIds.length, 1);
  assert.deepEqual(attempts, [1, 0]);
});

Deno.test("Rad69Client parses a root part with 7,000 DocumentResponses", async () => {
  const many = syntheticStudy({
    series: 1,
    instancesPerSeries: 7000,
    pixelBytes: 2,
  });
  await using server = await FakeRad69Server.start({ instances: many });
  const client = new Rad69Client({ url: server.url, requestPerSeries: false });
  let count = 0;
  for await (const _ of client.datasets(refsOf(many))) count++;
  assert.equal(count, 7000);
  assert.equal(server.requests.length, 1);
});

Deno.test("Rad69Client reports an unknown repository per instance", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    dialect: "nist",
    expectedRepositoryUniqueId: "1.2.3.4.5.6",
  });
  const client = new Rad69Client({ url: server.url, logger: quiet });
  const outcomes = await collect(client.retrieve(REFS.slice(0, 2)));
  for (const o of outcomes) {
    assert.ok(o.status === "failed");
    assert.ok(o.error instanceof Rad69ServerError);
    assert.equal((o.error as Rad69ServerError).code, "XDSUnknownRepositoryId");
  }
  const right = new Rad69Client({
    url: server.url,
    repositoryUniqueId: "1.2.3.4.5.6",
  });
  assert.equal((await collect(right.datasets(REFS))).length, 6);
});

Deno.test("Rad69Client stops promptly when its signal aborts", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    plan: { stall: { at: 2000 } },
  });
  const controller = new AbortController();
  const client = new Rad69Client({
    url: server.url,
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(new Error("user stop")), 100);
  await assert.rejects(collect(client.datasets(REFS)), /user stop/);
});

Deno.test("Rad69Client reports an idle stall as a network error", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    plan: { stall: { at: 2000 } },
  });
  const client = new Rad69Client({
    url: server.url,
    idleTimeoutMs: 150,
    retries: 0,
    logger: quiet,
  });
  const outcomes = await collect(client.retrieve(REFS.slice(0, 3)));
  assert.equal(outcomes.length, 3);
  for (const o of outcomes) {
    assert.ok(o.status === "failed" && o.error instanceof Rad69NetworkError);
    assert.match(o.error.message, /stalled/);
  }
});
