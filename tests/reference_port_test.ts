/**
 * Every scenario of the reference library's RAD-69 tests (dicomtrolley
 * `tests/test_rad69.py`), ported to this API and run over real loopback HTTP
 * against the fake server. Where the reference only checked that "an error"
 * was raised, these check the typed error and the per-instance accounting.
 */

import assert from "node:assert/strict";
import {
  buildRetrieveRequest,
  InvalidDicomError,
  type MultipartPart,
  Rad69Client,
  Rad69Error,
  Rad69HttpError,
  Rad69NetworkError,
  Rad69ProtocolError,
  TruncatedResponseError,
  XDSMissingDocumentError,
} from "../mod.ts";
import { MultipartParser } from "../src/multipart/multipart_parser.ts";
import {
  buildDicomInstance,
  FakeRad69Server,
  syntheticStudy,
} from "../src/testing/mod.ts";
import { collect, refsOf, sameBytes } from "./_utils/refs.ts";

const quiet = {};

Deno.test("port test_rad69_get_dataset: getDataset() returns the dataset with its tags", async () => {
  const bytes = buildDicomInstance({
    studyUid: "1",
    seriesUid: "2",
    instanceUid: "3",
    patientName: "Jim",
  });
  await using server = await FakeRad69Server.start({ instances: [bytes] });
  const client = new Rad69Client({ url: server.url });
  const instance = await client.getDataset({
    studyUid: "1",
    seriesUid: "2",
    instanceUid: "3",
  });
  assert.equal(instance.dataset.string("x00100010"), "Jim");
  assert.ok(sameBytes(instance.bytes, bytes));
});

Deno.test("port test_rad69_error_from_server: each server error becomes a typed error", async (t) => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
  const [a, b] = refsOf(study);
  const cases = [
    {
      name: "invalid DICOM in a multipart answer",
      plan: { notDicom: true },
      refs: [a!],
      check: (e: unknown) => e instanceof InvalidDicomError,
    },
    {
      name: "HTTP 502 with a non-DICOM body",
      plan: {
        http: {
          status: 502,
          body: "Proxy error",
          headers: { "content-type": "text/plain" },
        },
      },
      check: (e: unknown) => e instanceof Rad69HttpError && e.status === 502,
    },
    {
      name: "HTTP 200 that is not multipart nor SOAP",
      plan: { contentType: "text/plain", garbage: "just some text" },
      check: (e: unknown) =>
        e instanceof Rad69ProtocolError && /just some text/.test(e.message),
    },
    {
      name: "object not found: two errors in a plain SOAP answer",
      plan: {},
      refs: [
        { ...a!, instanceUid: "9.9.1" },
        { ...a!, instanceUid: "9.9.2" },
      ],
      check: (e: unknown) =>
        e instanceof Rad69Error && e.name === "IncompleteRetrieveError" &&
        (e as unknown as { failures: unknown[] }).failures.every((f) =>
          f instanceof XDSMissingDocumentError
        ),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using server = await FakeRad69Server.start({
        instances: study,
        dialect: "vitrea",
        plan: c.plan,
      });
      const client = new Rad69Client({
        url: server.url,
        retries: 0,
        logger: quiet,
      });
      await assert.rejects(
        collect(client.datasets(c.refs ?? [a!, b!])),
        c.check,
      );
    });
  }
});

Deno.test("port test_requests_chunked_encoding_error_handling: a connection closed mid-body is a typed error", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 3 });
  await using server = await FakeRad69Server.start({
    instances: study,
    plan: { truncate: { at: 4000, mode: "abort" } },
  });
  const client = new Rad69Client({
    url: server.url,
    retries: 0,
    logger: quiet,
  });
  await assert.rejects(
    collect(client.datasets(refsOf(study))),
    (e: unknown) => {
      assert.ok(e instanceof Rad69Error, String(e));
      assert.ok(e.message.length > 0);
      const failures = e.name === "IncompleteRetrieveError"
        ? (e as unknown as { failures: Rad69Error[] }).failures
        : [e];
      assert.ok(
        failures.every((f) =>
          f instanceof Rad69NetworkError || f instanceof TruncatedResponseError
        ),
      );
      return true;
    },
  );
});

Deno.test("port test_rad69_template: the request names every study, series and instance", () => {
  const request = buildRetrieveRequest([
    { studyUid: "1.1", seriesUid: "1.1.1", instanceUid: "1.1.1.1" },
    { studyUid: "1.1", seriesUid: "1.1.1", instanceUid: "1.1.1.2" },
    { studyUid: "1.1", seriesUid: "1.1.2", instanceUid: "1.1.1.1.5" },
  ], {
    url: "http://127.0.0.1/rad69",
    transferSyntaxes: ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"],
  });
  const xml = request.xml;
  for (
    const uid of [
      'studyInstanceUID="1.1"',
      'seriesInstanceUID="1.1.1"',
      'seriesInstanceUID="1.1.2"',
      ">1.1.1.1<",
      ">1.1.1.2<",
      ">1.1.1.1.5<",
      ">1.2.840.10008.1.2<",
      ">1.2.840.10008.1.2.1<",
    ]
  ) {
    assert.ok(xml.includes(uid), `${uid} missing from the request`);
  }
  assert.equal(xml.match(/StudyRequest /g)?.length, 1);
  assert.equal(xml.match(/SeriesRequest /g)?.length, 2);
});

Deno.test("port test_wado_datasets_async: instances of two studies, concurrent bins", async () => {
  const one = syntheticStudy({ series: 1, instancesPerSeries: 1, seed: 1 });
  const two = syntheticStudy({ series: 1, instancesPerSeries: 1, seed: 2 });
  await using server = await FakeRad69Server.start({
    instances: [...one, ...two],
  });
  const client = new Rad69Client({ url: server.url, requestPerSeries: false });
  const got = await collect(client.datasets(refsOf([...one, ...two])));
  assert.equal(got.length, 2);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(server.requests[0]!.studyUids.length, 2);
  assert.match(server.requests[0]!.contentType, /^application\/soap\+xml/);
});

Deno.test("port test_wado_datasets_streamed: a chunked answer of three instances", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 3 });
  await using server = await FakeRad69Server.start({
    instances: study,
    plan: { chunkSize: 1000 },
  });
  const client = new Rad69Client({ url: server.url });
  assert.equal((await collect(client.datasets(refsOf(study)))).length, 3);
});

Deno.test("port test_http_multi_part_stream(_chunk_size): four parts whatever the chunk size", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 3 });
  await using server = await FakeRad69Server.start({ instances: study });
  const request = buildRetrieveRequest(refsOf(study), { url: server.url });
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": request.contentType },
    body: request.body as Uint8Array<ArrayBuffer>,
  });
  const boundary = /boundary="?([^";]+)"?/.exec(
    response.headers.get("content-type")!,
  )![1]!;
  const body = await response.bytes();
  for (const chunk of [1, 2, 16, 64, 1024, 271360]) {
    for (const engine of ["wasm", "ts"] as const) {
      using parser = new MultipartParser(boundary, { engine });
      const parts: MultipartPart[] = [];
      for (let i = 0; i < body.length; i += chunk) {
        parser.push(body.subarray(i, i + chunk), (p) => parts.push(p));
      }
      parser.finish();
      assert.equal(parts.length, 4, `chunk ${chunk} ${engine}`);
    }
  }
});

Deno.test("port test_http_multi_part_stream_exceptions: a body missing its first boundary is an error", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 3 });
  await using server = await FakeRad69Server.start({ instances: study });
  const request = buildRetrieveRequest(refsOf(study), { url: server.url });
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": request.contentType },
    body: request.body as Uint8Array<ArrayBuffer>,
  });
  const contentType = response.headers.get("content-type")!;
  const body = (await response.bytes()).subarray(30);
  server.enqueue({ garbage: body });
  const client = new Rad69Client({
    url: server.url,
    retries: 0,
    logger: quiet,
  });
  const outcomes = await collect(client.retrieve(refsOf(study)));
  assert.equal(outcomes.length, 3);
  // The first part (the SOAP root) lost its delimiter: no instance can be
  // delivered, and each one says why.
  for (const o of outcomes) {
    assert.equal(o.status, "failed");
    assert.ok(o.status === "failed" && o.error instanceof Rad69Error);
  }
  assert.match(contentType, /multipart\/related/);
});

Deno.test("port test_break_off_first_part: boundary look-alikes are not delimiters", () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const cases: [string, string, string[]][] = [
    [
      "a_boundary123",
      "--a_boundary123\r\n\r\nsome content--a_boundary123andthensome\r\n--a_boundary123--",
      ["some content--a_boundary123andthensome"],
    ],
    ["123", "--123\r\n\r\ncontent\r\n--123content2\r\n--123--", [
      "content\r\n--123content2",
    ]],
  ];
  for (const [boundary, text, expected] of cases) {
    using parser = new MultipartParser(boundary, { engine: "wasm" });
    const parts: string[] = [];
    parser.push(enc.encode(text), (p) => parts.push(dec.decode(p.body)));
    parser.finish();
    assert.deepEqual(parts, expected);
  }
  using parser = new MultipartParser("123", { engine: "ts" });
  parser.push(enc.encode("--123contentbutnoendboundary"), () => {});
  assert.throws(() => parser.finish(), TruncatedResponseError);
});

Deno.test("port test_huge_xml_part: a root part far larger than the chunk size", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
  await using server = await FakeRad69Server.start({
    instances: study,
    plan: { rootPadding: 3 * 2 ** 20 },
  });
  const client = new Rad69Client({ url: server.url, chunkSize: 64 * 1024 });
  assert.equal((await collect(client.datasets(refsOf(study)))).length, 1);
});
