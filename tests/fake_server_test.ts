import assert from "node:assert/strict";
import dicomParser from "dicom-parser";
import {
  buildDicomInstance,
  type FakeDialect,
  FakeRad69Server,
  type SyntheticInstance,
  syntheticStudy,
} from "../src/testing/mod.ts";

// deno.json turns the op and resource sanitizers on for every test.

const ACTION = "urn:ihe:rad:2009:RetrieveImagingDocumentSet";
const SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
const PARTIAL = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";
const FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
const STUDY = syntheticStudy({ series: 2, instancesPerSeries: 2, seed: 3 });
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

interface BuildOptions {
  action?: string;
  repository?: string;
  homeCommunityId?: string;
  transferSyntaxes?: string[];
  bodyExtra?: string;
  envelopeNs?: string;
}

/** A hand-written RAD-69 request for the given instances. */
function requestXml(
  instances: readonly Pick<
    SyntheticInstance,
    "studyUid" | "seriesUid" | "instanceUid"
  >[],
  o: BuildOptions = {},
): string {
  const byStudy = new Map<string, Map<string, string[]>>();
  for (const i of instances) {
    const series = byStudy.get(i.studyUid) ?? new Map<string, string[]>();
    byStudy.set(i.studyUid, series);
    series.set(i.seriesUid, [
      ...(series.get(i.seriesUid) ?? []),
      i.instanceUid,
    ]);
  }
  const studies = [...byStudy].map(([study, series]) =>
    `<iherad:StudyRequest studyInstanceUID="${study}">${
      [...series].map(([s, uids]) =>
        `<iherad:SeriesRequest seriesInstanceUID="${s}">${
          uids.map((u) =>
            `<xdsb:DocumentRequest>${
              o.homeCommunityId
                ? `<xdsb:HomeCommunityId>${o.homeCommunityId}</xdsb:HomeCommunityId>`
                : ""
            }<xdsb:RepositoryUniqueId>${
              o.repository ?? "1.3.6.1.4.1000"
            }</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>${u}</xdsb:DocumentUniqueId></xdsb:DocumentRequest>`
          ).join("")
        }</iherad:SeriesRequest>`
      ).join("")
    }</iherad:StudyRequest>`
  ).join("");
  const ts = (o.transferSyntaxes ?? ["1.2.840.10008.1.2.1"]).map((t) =>
    `<iherad:TransferSyntaxUID>${t}</iherad:TransferSyntaxUID>`
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="${
    o.envelopeNs ?? "http://www.w3.org/2003/05/soap-envelope"
  }" xmlns:wsa="http://www.w3.org/2005/08/addressing">
  <soap:Header>
    <wsa:Action soap:mustUnderstand="1">${o.action ?? ACTION}</wsa:Action>
    <wsa:MessageID>urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e</wsa:MessageID>
    <wsa:To>http://127.0.0.1/rad69</wsa:To>
  </soap:Header>
  <soap:Body>${o.bodyExtra ?? ""}
    <iherad:RetrieveImagingDocumentSetRequest xmlns:iherad="urn:ihe:rad:xdsi-b:2009" xmlns:xdsb="urn:ihe:iti:xds-b:2007">${studies}<iherad:TransferSyntaxUIDList>${ts}</iherad:TransferSyntaxUIDList></iherad:RetrieveImagingDocumentSetRequest>
  </soap:Body>
</soap:Envelope>`;
}

/** POSTs plain SOAP 1.2. */
function post(
  server: FakeRad69Server,
  body: string,
  contentType = "application/soap+xml; charset=UTF-8",
): Promise<Response> {
  return fetch(server.url, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
  });
}

/** POSTs an MTOM-packaged request. */
function postMtom(server: FakeRad69Server, xml: string): Promise<Response> {
  const boundary = "MIMEBoundary_test_123";
  const body =
    `--${boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root@test>\r\n\r\n${xml}\r\n--${boundary}--\r\n`;
  return post(
    server,
    body,
    `multipart/related; boundary="${boundary}"; type="application/xop+xml"; start="<root@test>"; start-info="application/soap+xml"; action="${ACTION}"`,
  );
}

interface Part {
  rawHeaders: string[];
  headers: Map<string, string>;
  body: Uint8Array;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** A minimal multipart splitter for the tests (CRLF or LF). */
function splitMultipart(
  body: Uint8Array,
  boundary: string,
): { parts: Part[]; closed: boolean; preamble: string; epilogue: string } {
  const delim = enc.encode("--" + boundary);
  const parts: Part[] = [];
  let pos = indexOf(body, delim);
  assert.ok(pos >= 0, "no delimiter");
  const preamble = latin1.decode(body.subarray(0, pos));
  let closed = false;
  let epilogue = "";
  while (true) {
    let start = pos + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) {
      closed = true;
      epilogue = latin1.decode(body.subarray(start + 2)).replace(/^\r?\n/, "");
      break;
    }
    start = body.indexOf(0x0a, start) + 1;
    let next = indexOf(body, delim, start);
    // Only a delimiter at the start of a line counts.
    while (next >= 0 && body[next - 1] !== 0x0a) {
      next = indexOf(body, delim, next + 1);
    }
    const end = next < 0
      ? body.length
      : next - (body[next - 2] === 0x0d ? 2 : 1);
    const raw = body.subarray(start, next < 0 ? body.length : end);
    let headerEnd = indexOf(raw, enc.encode("\r\n\r\n"));
    let sep = 4;
    if (headerEnd < 0) {
      headerEnd = indexOf(raw, enc.encode("\n\n"));
      sep = 2;
    }
    const rawHeaders = latin1.decode(raw.subarray(0, headerEnd)).split(/\r?\n/);
    const headers = new Map<string, string>();
    for (const line of rawHeaders) {
      const c = line.indexOf(":");
      headers.set(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
    }
    parts.push({ rawHeaders, headers, body: raw.subarray(headerEnd + sep) });
    if (next < 0) break;
    pos = next;
  }
  return { parts, closed, preamble, epilogue };
}

function param(contentType: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}=(?:"([^"]*)"|([^;]*))`, "i").exec(
    contentType,
  );
  return m ? (m[1] ?? m[2]!.trim()) : undefined;
}

async function readAll(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** Content-ID header value → normalised id (no brackets). */
function normId(value: string): string {
  return value.trim().replace(/^<(.*)>$/, "$1");
}

/** href → normalised id (RFC 2392). */
function hrefId(href: string): string {
  return decodeURIComponent(href.replace(/^cid:/, ""));
}

function hrefs(xml: string): string[] {
  return [...xml.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
}

function statusOf(xml: string): string {
  return /RegistryResponse[^>]*status="([^"]*)"/.exec(xml)![1]!;
}

function docUids(xml: string): string[] {
  return [...xml.matchAll(/DocumentUniqueId>([^<]+)</g)].map((m) => m[1]!);
}

/** Parses a multipart answer and maps documents to bytes by Content-ID. */
async function retrieve(
  response: Response,
): Promise<{
  contentType: string;
  root: string;
  parts: Part[];
  byUid: Map<string, Uint8Array>;
  raw: Uint8Array;
}> {
  const contentType = response.headers.get("content-type")!;
  const raw = await readAll(response);
  const boundary = param(contentType, "boundary")!;
  const { parts } = splitMultipart(raw, boundary);
  const start = param(contentType, "start");
  const rootPart = start
    ? parts.find((p) =>
      normId(p.headers.get("content-id") ?? "") === normId(start)
    )!
    : parts[0]!;
  const root = new TextDecoder().decode(rootPart.body);
  const uids = docUids(root);
  const links = hrefs(root);
  const byUid = new Map<string, Uint8Array>();
  uids.forEach((uid, i) => {
    const id = hrefId(links[i]!);
    const part = parts.find((p) =>
      normId(p.headers.get("content-id") ?? "") === id
    );
    if (part) byUid.set(uid, part.body);
  });
  return { contentType, root, parts, byUid, raw };
}

Deno.test("FakeRad69Server.start() listens on loopback and closes", async () => {
  const server = await FakeRad69Server.start();
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/rad69$/);
  const r404 = await fetch(new URL("/other", server.url));
  assert.equal(r404.status, 404);
  await r404.body?.cancel();
  const r405 = await fetch(server.url);
  assert.equal(r405.status, 405);
  await r405.body?.cancel();
  await server.close();
  await server.close();
});

Deno.test("FakeRad69Server answers a valid request with streamed MTOM", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });

  await t.step("all found: Success, one part per instance", async () => {
    const response = await post(server, requestXml(STUDY));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), null);
    assert.equal(response.headers.get("transfer-encoding"), "chunked");
    const { root, byUid, parts } = await retrieve(response);
    assert.equal(statusOf(root), SUCCESS);
    assert.ok(!root.includes("RegistryErrorList"));
    assert.equal(parts.length, 1 + STUDY.length);
    for (const inst of STUDY) {
      assert.deepEqual(byUid.get(inst.instanceUid), inst.bytes);
    }
  });

  await t.step(
    "some missing: PartialSuccess with XDSMissingDocument",
    async () => {
      const response = await post(
        server,
        requestXml([STUDY[0]!, { ...STUDY[0]!, instanceUid: "1.2.3.999" }]),
      );
      const { root, byUid } = await retrieve(response);
      assert.equal(statusOf(root), PARTIAL);
      assert.match(
        root,
        /<RegistryError codeContext="DICOM Object not found" errorCode="XDSMissingDocument" location="1\.2\.3\.999" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"\/>/,
      );
      assert.deepEqual([...byUid.keys()], [STUDY[0]!.instanceUid]);
    },
  );

  await t.step(
    "none found: Failure as a one-part multipart (CXF)",
    async () => {
      const response = await post(
        server,
        requestXml([{ ...STUDY[0]!, instanceUid: "1.2.3.999" }]),
      );
      assert.equal(response.status, 200);
      assert.match(
        response.headers.get("content-type")!,
        /^multipart\/related/,
      );
      const { root, parts } = await retrieve(response);
      assert.equal(statusOf(root), FAILURE);
      assert.equal(parts.length, 1);
    },
  );

  await t.step("wrong series: not found (hierarchy is checked)", async () => {
    const response = await post(
      server,
      requestXml([{ ...STUDY[0]!, seriesUid: STUDY[3]!.seriesUid }]),
    );
    const { root } = await retrieve(response);
    assert.equal(statusOf(root), FAILURE);
  });

  await t.step("MTOM request is accepted and recorded as such", async () => {
    const response = await postMtom(server, requestXml([STUDY[1]!]));
    const { root, byUid } = await retrieve(response);
    assert.equal(statusOf(root), SUCCESS);
    assert.deepEqual(byUid.get(STUDY[1]!.instanceUid), STUDY[1]!.bytes);
    assert.equal(server.requests.at(-1)!.mtom, true);
  });
});

Deno.test("FakeRad69Server records parsed requests", async () => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const response = await post(
    server,
    requestXml(STUDY, {
      repository: "1.2.3.4.5.6",
      homeCommunityId: "urn:oid:1.2.3",
      transferSyntaxes: ["1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.1"],
    }),
  );
  await response.body?.cancel();
  assert.equal(server.requests.length, 1);
  const r = server.requests[0]!;
  assert.equal(r.valid, true);
  assert.equal(r.mtom, false);
  assert.equal(r.method, "POST");
  assert.equal(r.action, ACTION);
  assert.equal(r.messageId, "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e");
  assert.equal(r.to, "http://127.0.0.1/rad69");
  assert.match(r.contentType, /^application\/soap\+xml/);
  assert.equal(r.headers.get("content-type"), r.contentType);
  assert.ok(r.body.includes("RetrieveImagingDocumentSetRequest"));
  assert.equal(r.soapXml, r.body);
  assert.deepEqual(r.studyUids, [STUDY[0]!.studyUid]);
  assert.deepEqual(r.seriesUids, [STUDY[0]!.seriesUid, STUDY[2]!.seriesUid]);
  assert.deepEqual(r.documentUniqueIds, STUDY.map((i) => i.instanceUid));
  assert.deepEqual(r.repositoryUniqueIds, ["1.2.3.4.5.6"]);
  assert.deepEqual(r.homeCommunityIds, ["urn:oid:1.2.3"]);
  assert.deepEqual(r.transferSyntaxes, [
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.1",
  ]);
  assert.deepEqual(r.documents[0], {
    studyUid: STUDY[0]!.studyUid,
    seriesUid: STUDY[0]!.seriesUid,
    documentUniqueId: STUDY[0]!.instanceUid,
    repositoryUniqueId: "1.2.3.4.5.6",
    homeCommunityId: "urn:oid:1.2.3",
  });
  server.clearRequests();
  assert.equal(server.requests.length, 0);
});

Deno.test("FakeRad69Server faults malformed requests", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const good = requestXml([STUDY[0]!]);
  const cases: {
    name: string;
    body: string;
    contentType?: string;
    status: number;
    code: string;
    subcode?: string;
  }[] = [
    {
      name: "action with a trailing space",
      body: requestXml([STUDY[0]!], { action: ACTION + " " }),
      status: 400,
      code: "Sender",
      subcode: "wsa:ActionNotSupported",
    },
    {
      name: "missing action",
      body: good.replace(/<wsa:Action[^]*?<\/wsa:Action>/, ""),
      status: 400,
      code: "Sender",
      subcode: "wsa:MessageAddressingHeaderRequired",
    },
    {
      name: "text inside the Body",
      body: requestXml([STUDY[0]!], { bodyExtra: "response" }),
      status: 400,
      code: "Sender",
    },
    {
      name: "two requests in the Body",
      body: good.replace(
        /(<iherad:RetrieveImagingDocumentSetRequest[^]*<\/iherad:RetrieveImagingDocumentSetRequest>)/,
        "$1$1",
      ),
      status: 400,
      code: "Sender",
    },
    {
      name: "DocumentRequest in the xdsi-b namespace",
      body: good.replaceAll("xdsb:DocumentRequest", "iherad:DocumentRequest"),
      status: 400,
      code: "Sender",
    },
    {
      name: "RepositoryUniqueId after DocumentUniqueId",
      body: good.replace(
        /(<xdsb:RepositoryUniqueId>.*?<\/xdsb:RepositoryUniqueId>)(<xdsb:DocumentUniqueId>.*?<\/xdsb:DocumentUniqueId>)/,
        "$2$1",
      ),
      status: 400,
      code: "Sender",
    },
    {
      name: "wrong attribute case",
      body: good.replace("studyInstanceUID", "StudyInstanceUID"),
      status: 400,
      code: "Sender",
    },
    {
      name: "empty TransferSyntaxUIDList",
      body: requestXml([STUDY[0]!], { transferSyntaxes: [] }),
      status: 400,
      code: "Sender",
    },
    {
      name: "no TransferSyntaxUIDList",
      body: good.replace(
        /<iherad:TransferSyntaxUIDList>.*<\/iherad:TransferSyntaxUIDList>/,
        "",
      ),
      status: 400,
      code: "Sender",
    },
    {
      name: "malformed XML",
      body: good.replace("</soap:Body>", ""),
      status: 400,
      code: "Sender",
    },
    {
      name: "SOAP 1.1 envelope",
      body: requestXml([STUDY[0]!], {
        envelopeNs: "http://schemas.xmlsoap.org/soap/envelope/",
      }),
      status: 500,
      code: "VersionMismatch",
    },
    {
      name: "unknown mustUnderstand header",
      body: good.replace(
        "<soap:Header>",
        '<soap:Header><x:Foo xmlns:x="urn:x" soap:mustUnderstand="true"/>',
      ),
      status: 500,
      code: "MustUnderstand",
    },
    {
      name: "text/xml content type",
      body: good,
      contentType: "text/xml; charset=UTF-8",
      status: 415,
      code: "VersionMismatch",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await post(server, c.body, c.contentType);
      assert.equal(response.status, c.status);
      assert.match(
        response.headers.get("content-type")!,
        /^application\/soap\+xml/,
      );
      const xml = await response.text();
      assert.match(xml, /<env:Fault>/);
      assert.ok(xml.includes(`<env:Value>env:${c.code}</env:Value>`), xml);
      if (c.subcode) assert.ok(xml.includes(c.subcode), xml);
      const rec = server.requests.at(-1)!;
      assert.equal(rec.valid, false);
      assert.ok(rec.validationError);
    });
  }
});

Deno.test("FakeRad69Server requireMtom faults plain requests", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    requireMtom: true,
  });
  const plain = await post(server, requestXml([STUDY[0]!]));
  assert.equal(plain.status, 400);
  assert.match(await plain.text(), /MTOM/);
  const mtom = await postMtom(server, requestXml([STUDY[0]!]));
  assert.equal(mtom.status, 200);
  const { byUid } = await retrieve(mtom);
  assert.deepEqual(byUid.get(STUDY[0]!.instanceUid), STUDY[0]!.bytes);
});

Deno.test("FakeRad69Server checks the repository when asked", async () => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    expectedRepositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
  });
  const bad = await post(server, requestXml([STUDY[0]!]));
  const { root } = await retrieve(bad);
  assert.equal(statusOf(root), FAILURE);
  assert.match(root, /errorCode="XDSUnknownRepositoryId"/);
  assert.match(root, /Unknown Repository UID \[1\.3\.6\.1\.4\.1000\]/);
  const good = await post(
    server,
    requestXml([STUDY[0]!], { repository: "1.3.6.1.4.1.21367.13.80.110" }),
  );
  assert.equal(statusOf((await retrieve(good)).root), SUCCESS);
});

Deno.test("FakeRad69Server refuses an unacceptable transfer syntax", async () => {
  const jpeg = buildDicomInstance({
    studyUid: "1.2.5",
    seriesUid: "1.2.5.1",
    instanceUid: "1.2.5.1.1",
    transferSyntaxUid: "1.2.840.10008.1.2.4.70",
  });
  await using server = await FakeRad69Server.start({ instances: [jpeg] });
  const ref = {
    studyUid: "1.2.5",
    seriesUid: "1.2.5.1",
    instanceUid: "1.2.5.1.1",
  };
  const refused = await post(
    server,
    requestXml([ref], { transferSyntaxes: ["1.2.840.10008.1.2.4.50"] }),
  );
  const { root } = await retrieve(refused);
  assert.equal(statusOf(root), FAILURE);
  assert.match(root, /errorCode="urn:dicom:wado:0007"/);
  const ok = await post(
    server,
    requestXml([ref], { transferSyntaxes: ["1.2.840.10008.1.2.4.70"] }),
  );
  assert.deepEqual((await retrieve(ok)).byUid.get("1.2.5.1.1"), jpeg);
});

Deno.test("FakeRad69Server frames each dialect like its real server", async (t) => {
  const two = [STUDY[0]!, STUDY[1]!];
  const expectations: Record<
    Exclude<FakeDialect, "inline">,
    (ct: string, parts: Part[], root: string, raw: Uint8Array) => void
  > = {
    cxf: (ct, parts, root, raw) => {
      assert.match(ct, /boundary="uuid:[0-9a-f-]{36}"/);
      assert.match(ct, /start="<root\.message@cxf\.apache\.org>"/);
      assert.match(ct, /type="application\/xop\+xml"/);
      assert.match(ct, /start-info="application\/soap\+xml"/);
      assert.equal(latin1.decode(raw.subarray(0, 2)), "\r\n");
      assert.ok(
        parts[0]!.rawHeaders.includes(
          "Content-ID: <root.message@cxf.apache.org>",
        ),
      );
      for (const href of hrefs(root)) {
        assert.match(
          href,
          /^cid:[0-9a-f-]+-\d+@urn%3Aihe%3Aiti%3Axds-b%3A2007$/,
        );
      }
      assert.match(
        parts[1]!.rawHeaders.find((h) => h.startsWith("Content-ID:"))!,
        /^Content-ID: <[0-9a-f-]+-\d+@urn:ihe:iti:xds-b:2007>$/,
      );
    },
    vitrea: (ct, parts) => {
      assert.match(ct, /boundary="----=_Part_\d+_\d+\.\d+"/);
      assert.ok(
        parts[0]!.rawHeaders.some((h) => h.startsWith("Content-Id: <")),
      );
      const id = parts[1]!.rawHeaders.find((h) =>
        h.startsWith("Content-ID: ")
      )!;
      assert.ok(!id.includes("<"), id);
    },
    nist: (ct, parts, root) => {
      assert.match(ct, /boundary=MIMEBoundary112233445566778899;/);
      assert.match(ct, /start="<doc0@ihexds\.nist\.gov>"/);
      assert.ok(
        parts[0]!.rawHeaders.includes("Content-ID: <doc0@ihexds.nist.gov>"),
      );
      assert.deepEqual(
        hrefs(root).sort(),
        ["cid:doc1@ihexds.nist.gov", "cid:doc2@ihexds.nist.gov"],
      );
    },
    axis2: (ct, parts, root) => {
      assert.match(ct, /boundary=MIMEBoundaryurn_uuid_[0-9A-F]+;/);
      assert.match(ct, /start="0\.urn:uuid:[0-9A-F]+@apache\.org"/);
      assert.match(
        ct,
        /action="urn:ihe:iti:2007:RetrieveDocumentSetResponse"/,
      );
      assert.ok(
        parts[0]!.rawHeaders.some((h) => /^Content-ID: <0\.urn:uuid:/.test(h)),
      );
      for (const href of hrefs(root)) {
        assert.match(href, /^cid:\d+\.urn:uuid:[0-9A-F]+@apache\.org$/);
      }
    },
    wcf: (ct, parts, root) => {
      assert.match(ct, /boundary="uuid:[0-9a-f-]{36}\+id=1"/);
      assert.match(ct, /start="<http:\/\/tempuri\.org\/0>"/);
      assert.match(parts[1]!.rawHeaders[0]!, /^Content-ID: <.*@tempuri\.org>$/);
      for (const href of hrefs(root)) {
        assert.match(href, /%40tempuri\.org$/);
        assert.ok(!href.includes("@"));
      }
    },
    "form-data": (ct, parts) => {
      assert.match(ct, /^multipart\/form-data; boundary=[0-9a-f]{32}$/);
      assert.equal(param(ct, "start"), undefined);
      for (const part of parts) {
        assert.ok(!part.headers.has("content-id"));
        assert.match(part.headers.get("content-disposition")!, /^form-data;/);
      }
    },
  };
  for (const [dialect, check] of Object.entries(expectations)) {
    await t.step(dialect, async () => {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        dialect: dialect as FakeDialect,
      });
      const response = await post(server, requestXml(two));
      assert.equal(response.status, 200);
      const { contentType, parts, root, byUid, raw } = await retrieve(
        response,
      );
      check(contentType, parts, root, raw);
      assert.equal(parts.length, 3);
      assert.equal(statusOf(root), SUCCESS);
      if (dialect === "form-data") {
        // Mapped by order.
        assert.deepEqual(parts[1]!.body, STUDY[0]!.bytes);
        assert.deepEqual(parts[2]!.body, STUDY[1]!.bytes);
      } else {
        assert.deepEqual(byUid.get(STUDY[0]!.instanceUid), STUDY[0]!.bytes);
        assert.deepEqual(byUid.get(STUDY[1]!.instanceUid), STUDY[1]!.bytes);
      }
    });
  }

  await t.step("inline", async () => {
    await using server = await FakeRad69Server.start({
      instances: STUDY,
      dialect: "inline",
    });
    const response = await post(server, requestXml(two));
    assert.match(
      response.headers.get("content-type")!,
      /^application\/soap\+xml/,
    );
    const xml = await response.text();
    assert.equal(statusOf(xml), SUCCESS);
    assert.ok(!xml.includes("xop:Include"));
    const docs = [...xml.matchAll(/Document>([A-Za-z0-9+/=]+)</g)].map((m) =>
      Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0))
    );
    assert.deepEqual(docs, [STUDY[0]!.bytes, STUDY[1]!.bytes]);
  });

  await t.step("vitrea not found: plain SOAP Failure, HTTP 200", async () => {
    await using server = await FakeRad69Server.start({
      instances: STUDY,
      dialect: "vitrea",
    });
    const response = await post(
      server,
      requestXml([{ ...STUDY[0]!, instanceUid: "1.2.3.999" }]),
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/soap+xml");
    const xml = await response.text();
    assert.equal(statusOf(xml), FAILURE);
    assert.match(xml, /codeContext="Unable to locate SOP from MINT\."/);
    assert.match(xml, /errorCode="XDSMissingDocument" location="1\.2\.3\.999"/);
  });

  await t.step("nist: PartialSuccess without RegistryErrorList", async () => {
    await using server = await FakeRad69Server.start({
      instances: STUDY,
      dialect: "nist",
    });
    const response = await post(
      server,
      requestXml([STUDY[0]!, { ...STUDY[0]!, instanceUid: "1.2.3.999" }]),
    );
    const { root } = await retrieve(response);
    assert.equal(statusOf(root), PARTIAL);
    assert.ok(!root.includes("RegistryError"));
  });

  await t.step("nist: parts in hash order, not request order", async () => {
    const many = syntheticStudy({ series: 1, instancesPerSeries: 12 });
    await using server = await FakeRad69Server.start({
      instances: many,
      dialect: "nist",
    });
    const response = await post(server, requestXml(many));
    const { parts, byUid } = await retrieve(response);
    const order = parts.slice(1).map((p) => p.headers.get("content-id"));
    const sorted = [...order].sort((a, b) =>
      Number(/doc(\d+)/.exec(a!)![1]) - Number(/doc(\d+)/.exec(b!)![1])
    );
    assert.notDeepEqual(order, sorted);
    for (const inst of many) {
      assert.deepEqual(byUid.get(inst.instanceUid), inst.bytes);
    }
  });
});

Deno.test("FakeRad69Server reads instances from raw bytes and directories", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/a/b`, { recursive: true });
    await Deno.writeFile(`${dir}/a/one.dcm`, STUDY[0]!.bytes);
    await Deno.writeFile(`${dir}/a/b/two.DCM`, STUDY[1]!.bytes);
    await Deno.writeFile(`${dir}/a/readme.txt`, enc.encode("not dicom"));
    await using server = await FakeRad69Server.start({
      directory: dir,
      instances: [STUDY[2]!.bytes],
    });
    assert.deepEqual(
      new Set(server.instanceUids),
      new Set([0, 1, 2].map((i) => STUDY[i]!.instanceUid)),
    );
    const response = await post(server, requestXml(STUDY.slice(0, 3)));
    const { byUid } = await retrieve(response);
    for (const inst of STUDY.slice(0, 3)) {
      assert.deepEqual(byUid.get(inst.instanceUid), inst.bytes);
    }
    server.addInstances([STUDY[3]!]);
    assert.ok(server.instanceUids.includes(STUDY[3]!.instanceUid));
    assert.equal(server.removeInstance(STUDY[3]!.instanceUid), true);
    assert.equal(server.removeInstance(STUDY[3]!.instanceUid), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FakeRad69Server rejects unreadable instances", async () => {
  assert.throws(
    () => new FakeRad69Server({ instances: [enc.encode("nope")] }),
    TypeError,
  );
  await assert.rejects(
    FakeRad69Server.start({ directory: "/nonexistent/rad69-fake" }),
    Deno.errors.NotFound,
  );
});

Deno.test("FakeRad69Server plans: queue, hook and server-wide merge", async () => {
  const seen: number[] = [];
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    plan: { status: "PartialSuccess" },
    onRequest(req) {
      seen.push(req.index);
      return req.index === 2 ? { status: "Failure" } : undefined;
    },
  });
  server.enqueue({ http: { status: 503, headers: { "retry-after": "2" } } }, {
    statusUrn:
      "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess",
  });
  assert.equal(server.pendingPlans, 2);
  const first = await post(server, requestXml([STUDY[0]!]));
  assert.equal(first.status, 503);
  assert.equal(first.headers.get("retry-after"), "2");
  await first.body?.cancel();
  const second = await post(server, requestXml([STUDY[0]!]));
  assert.equal(
    statusOf((await retrieve(second)).root),
    "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess",
  );
  const third = await post(server, requestXml([STUDY[0]!]));
  assert.equal(statusOf((await retrieve(third)).root), FAILURE);
  const fourth = await post(server, requestXml([STUDY[0]!]));
  assert.equal(statusOf((await retrieve(fourth)).root), PARTIAL);
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.equal(server.pendingPlans, 0);
});

Deno.test("FakeRad69Server fault knobs: replies instead of MIME", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const req = requestXml([STUDY[0]!]);

  await t.step("HTML 401", async () => {
    server.enqueue({
      http: { status: 401, body: "<html><body>Login</body></html>" },
    });
    const r = await post(server, req);
    assert.equal(r.status, 401);
    assert.match(r.headers.get("content-type")!, /^text\/html/);
    assert.match(await r.text(), /Login/);
  });

  await t.step("SOAP Fault with subcode and HTTP 200", async () => {
    server.enqueue({
      soapFault: {
        code: "Sender",
        subcode: "wsa:InvalidAddressingHeader",
        reason: "Bad & wrong",
        status: 200,
        detail: "details",
      },
    });
    const r = await post(server, req);
    assert.equal(r.status, 200);
    const xml = await r.text();
    assert.match(xml, /<env:Value>env:Sender<\/env:Value>/);
    assert.match(
      xml,
      /<env:Value xmlns:wsa="http:\/\/www\.w3\.org\/2005\/08\/addressing">wsa:InvalidAddressingHeader<\/env:Value>/,
    );
    assert.match(xml, /Bad &amp; wrong/);
    assert.match(xml, /<env:Detail>/);
  });

  await t.step("SOAP Fault defaults: Receiver, 500, multipart", async () => {
    server.enqueue({ soapFault: { multipart: true } });
    const r = await post(server, req);
    assert.equal(r.status, 500);
    const { parts, root } = await retrieve(r);
    assert.equal(parts.length, 1);
    assert.match(root, /env:Receiver/);
  });

  await t.step("garbage body", async () => {
    server.enqueue({ garbage: "this is not MIME" });
    const r = await post(server, req);
    assert.match(r.headers.get("content-type")!, /^multipart\/related/);
    assert.equal(await r.text(), "this is not MIME");
  });

  await t.step("missing and replaced Content-Type", async () => {
    server.enqueue({ contentType: null }, { contentType: "text/plain" });
    const r1 = await post(server, req);
    assert.equal(r1.headers.get("content-type"), null);
    await r1.body?.cancel();
    const r2 = await post(server, req);
    assert.equal(r2.headers.get("content-type"), "text/plain");
    await r2.body?.cancel();
  });
});

Deno.test("FakeRad69Server fault knobs: registry content", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const both = requestXml([STUDY[0]!, STUDY[1]!]);

  await t.step("warnings on a delivered instance keep Success", async () => {
    server.enqueue({
      errors: [{
        code: "XDSRepositoryError",
        context: "Coerced attributes",
        location: STUDY[0]!.instanceUid,
        severity: "Warning",
      }],
    });
    const { root, byUid } = await retrieve(await post(server, both));
    assert.equal(statusOf(root), SUCCESS);
    assert.match(
      root,
      /highestSeverity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"/,
    );
    assert.match(
      root,
      /severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"/,
    );
    assert.equal(byUid.size, 2);
  });

  await t.step("silent omission while claiming Success", async () => {
    server.enqueue({ omit: [STUDY[1]!.instanceUid] });
    const { root, parts } = await retrieve(await post(server, both));
    assert.equal(statusOf(root), SUCCESS);
    assert.deepEqual(docUids(root), [STUDY[0]!.instanceUid]);
    assert.equal(parts.length, 2);
    assert.ok(!root.includes("RegistryError"));
  });

  await t.step("custom not-found code and omitted error list", async () => {
    server.enqueue(
      { notFound: { code: "XDSDocumentUniqueIdError", context: "gone" } },
      { omitRegistryErrors: true },
    );
    const missing = requestXml([{ ...STUDY[0]!, instanceUid: "1.2.3.999" }]);
    const r1 = await retrieve(await post(server, missing));
    assert.match(r1.root, /errorCode="XDSDocumentUniqueIdError"/);
    assert.match(r1.root, /codeContext="gone"/);
    const r2 = await retrieve(await post(server, missing));
    assert.equal(statusOf(r2.root), FAILURE);
    assert.ok(!r2.root.includes("RegistryError"));
  });

  await t.step("swapped instance and non-DICOM part", async () => {
    server.enqueue({
      swap: { [STUDY[0]!.instanceUid]: STUDY[3]!.instanceUid },
      notDicom: [STUDY[1]!.instanceUid],
    });
    const { byUid } = await retrieve(await post(server, both));
    const swapped = dicomParser.parseDicom(byUid.get(STUDY[0]!.instanceUid)!);
    assert.equal(swapped.string("x00080018"), STUDY[3]!.instanceUid);
    assert.match(latin1.decode(byUid.get(STUDY[1]!.instanceUid)!), /<html>/);
  });
});

Deno.test("FakeRad69Server fault knobs: MIME framing", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const three = requestXml(STUDY.slice(0, 3));

  await t.step("reverse, shuffle and rootLast keep cid mapping", async () => {
    for (const reorderParts of ["reverse", "shuffle", "rootLast"] as const) {
      server.enqueue({ reorderParts });
      const { parts, byUid } = await retrieve(await post(server, three));
      if (reorderParts === "rootLast") {
        assert.match(parts.at(-1)!.headers.get("content-type")!, /xop/);
      }
      if (reorderParts === "reverse") {
        assert.deepEqual(parts[1]!.body, STUDY[2]!.bytes);
      }
      for (const inst of STUDY.slice(0, 3)) {
        assert.deepEqual(byUid.get(inst.instanceUid), inst.bytes);
      }
    }
  });

  await t.step("unreferenced extra text/plain part", async () => {
    server.enqueue({ extraPart: true });
    const { parts } = await retrieve(await post(server, three));
    assert.equal(parts.length, 5);
    assert.equal(parts.at(-1)!.headers.get("content-type"), "text/plain");
  });

  await t.step("base64 Content-Transfer-Encoding", async () => {
    server.enqueue({ base64Parts: true });
    const { parts, byUid } = await retrieve(await post(server, three));
    assert.equal(parts[1]!.headers.get("content-transfer-encoding"), "base64");
    const text = latin1.decode(byUid.get(STUDY[0]!.instanceUid)!);
    assert.ok(text.split("\r\n").every((l) => l.length <= 76));
    const decoded = Uint8Array.from(
      atob(text.replace(/\s+/g, "")),
      (c) => c.charCodeAt(0),
    );
    assert.deepEqual(decoded, STUDY[0]!.bytes);
  });

  await t.step("duplicate and unknown Content-IDs", async () => {
    server.enqueue({ duplicateContentIds: true }, { unknownContentId: true });
    const dup = await retrieve(await post(server, three));
    assert.equal(
      dup.parts[1]!.headers.get("content-id"),
      dup.parts[2]!.headers.get("content-id"),
    );
    const unknown = await retrieve(await post(server, three));
    assert.match(unknown.parts[3]!.headers.get("content-id")!, /fake\.invalid/);
    assert.equal(unknown.byUid.size, 2);
  });

  await t.step("LF line endings, preamble, epilogue", async () => {
    server.enqueue({
      lineEndings: "lf",
      preamble: "This is a MIME preamble",
      epilogue: "and an epilogue\r\n",
    });
    const r = await post(server, three);
    const ct = r.headers.get("content-type")!;
    const raw = await readAll(r);
    assert.ok(!latin1.decode(raw.subarray(0, 400)).includes("\r\n"));
    const split = splitMultipart(raw, param(ct, "boundary")!);
    assert.match(split.preamble, /^This is a MIME preamble\n$/);
    assert.equal(split.epilogue, "and an epilogue\r\n");
    assert.equal(split.parts.length, 4);
    assert.ok(split.closed);
    assert.deepEqual(split.parts[1]!.body, STUDY[0]!.bytes);
  });

  await t.step("missing closing delimiter", async () => {
    server.enqueue({ omitClosingDelimiter: true });
    const r = await post(server, three);
    const ct = r.headers.get("content-type")!;
    const raw = await readAll(r);
    const split = splitMultipart(raw, param(ct, "boundary")!);
    assert.equal(split.closed, false);
    assert.deepEqual(split.parts.at(-1)!.body, STUDY[2]!.bytes);
  });

  await t.step("huge root part", async () => {
    server.enqueue({ rootPadding: 300_000 });
    const { parts, root, byUid } = await retrieve(await post(server, three));
    assert.ok(parts[0]!.body.length > 300_000);
    assert.match(root, /<!--x+-->/);
    assert.equal(byUid.size, 3);
  });
});

Deno.test("FakeRad69Server fault knobs: transport", async (t) => {
  const big = syntheticStudy({
    series: 1,
    instancesPerSeries: 2,
    pixelBytes: 256 * 1024,
    seed: 11,
  });
  await using server = await FakeRad69Server.start({ instances: big });
  const req = requestXml(big);

  const reference = await readAll(await post(server, req));

  await t.step("1-byte writes deliver a correct body", async () => {
    server.enqueue({ chunkSize: 1, truncate: { at: 4000 } });
    const r = await post(server, req);
    let chunks = 0;
    let length = 0;
    for await (const c of r.body!) {
      chunks++;
      length += c.length;
    }
    assert.equal(length, 4000);
    assert.ok(chunks > 1);
  });

  await t.step("small writes keep the content", async () => {
    server.enqueue({ chunkSize: 7 });
    const r = await post(server, req);
    const { byUid } = await retrieve(r);
    assert.deepEqual(byUid.get(big[1]!.instanceUid), big[1]!.bytes);
  });

  await t.step("truncate with a clean end", async () => {
    server.enqueue({ truncate: { at: 10_000, mode: "end" } });
    const r = await post(server, req);
    const raw = await readAll(r);
    assert.equal(raw.length, 10_000);
    assert.ok(raw.length < reference.length);
  });

  for (const mode of ["abort", "reset"] as const) {
    await t.step(`truncate with ${mode}: the body read fails`, async () => {
      server.enqueue({ truncate: { at: 10_000, mode } });
      const r = await post(server, req);
      assert.equal(r.status, 200);
      let received = 0;
      await assert.rejects(async () => {
        for await (const c of r.body!) received += c.length;
      });
      assert.ok(received <= 10_000);
    });
  }

  await t.step("latency before the first byte", async () => {
    server.enqueue({ latencyMs: 200 });
    const t0 = performance.now();
    const r = await post(server, requestXml([big[0]!]));
    assert.ok(performance.now() - t0 >= 180);
    await r.body?.cancel();
  });

  await t.step("bandwidth cap", async () => {
    server.enqueue({ bytesPerSecond: 2_000_000 });
    const t0 = performance.now();
    const raw = await readAll(await post(server, req));
    const elapsed = performance.now() - t0;
    const expected = (raw.length / 2_000_000) * 1000;
    assert.ok(elapsed >= expected * 0.8, `${elapsed} ms < ${expected} ms`);
  });

  await t.step("finite stall then the rest", async () => {
    server.enqueue({ stall: { at: 1000, ms: 150 } });
    const t0 = performance.now();
    const raw = await readAll(await post(server, req));
    assert.ok(performance.now() - t0 >= 140);
    assert.equal(raw.length, reference.length);
  });
});

Deno.test("FakeRad69Server.close() ends stalls, latencies and streams", async () => {
  const server = await FakeRad69Server.start({ instances: STUDY });
  server.enqueue({ stall: { at: 500 } }, { latencyMs: 60_000 });
  const stalled = await post(server, requestXml(STUDY));
  const reader = stalled.body!.getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  const pendingRead = (async () => {
    let received = first.value!.length;
    while (true) {
      const { done, value } = await reader.read();
      if (done) return received;
      received += value.length;
    }
  })();
  const slow = post(server, requestXml(STUDY)).then(async (r) => {
    const status = r.status;
    await r.body?.cancel();
    return status;
  }, (e) => e);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const t0 = performance.now();
  await server.close();
  assert.ok(performance.now() - t0 < 5000);
  await assert.rejects(pendingRead);
  const slowResult = await slow;
  assert.ok(slowResult === 503 || slowResult instanceof Error);
});

Deno.test("FakeRad69Server.close() finishes once an unread body is cancelled", async () => {
  const big = syntheticStudy({
    series: 1,
    instancesPerSeries: 4,
    pixelBytes: 4 << 20,
  });
  const server = await FakeRad69Server.start({ instances: big });
  const response = await post(server, requestXml(big));
  assert.equal(response.status, 200);
  // Not reading: the server is blocked by backpressure (full socket
  // buffers), which Deno.serve's graceful shutdown cannot interrupt.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closing = server.close();
  await response.body!.cancel();
  await closing;
});
