/**
 * The fake server accepts the request framings real SOAP 1.2 stacks send
 * (issue 15), refuses what is truly wrong with a precise Fault, and can
 * imitate a server that does not process WS-Addressing.
 *
 * The JAX-WS RI (Metro) framings are byte-for-byte what Metro 2.3.0 (Debian
 * libjaxws-java) sent in tests/interop_jaxws_test.ts, and the gSOAP ones
 * what gSOAP 2.8.124 wrote in tests/interop_gsoap_test.ts. CXF, Axis2 and
 * WCF were not run here: their framings follow the protocol notes and the
 * stacks' documented output (docs/interop.md says which is which).
 */

import assert from "node:assert/strict";
import { Rad69Client, SoapFaultError } from "../mod.ts";
import { findSoapFault } from "../src/soap/response.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const ACTION = "urn:ihe:rad:2009:RetrieveImagingDocumentSet";
const STUDY = syntheticStudy({ series: 1, instancesPerSeries: 2, seed: 15 });
const SOAP12 = "http://www.w3.org/2003/05/soap-envelope";
const SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";

/** The Body of a request for every instance of STUDY. */
function requestBody(): string {
  const docs = STUDY.map((i) =>
    `<xdsb:DocumentRequest><xdsb:RepositoryUniqueId>1.3.6.1.4.1000</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>${i.instanceUid}</xdsb:DocumentUniqueId></xdsb:DocumentRequest>`
  ).join("");
  const first = STUDY[0]!;
  return `<iherad:RetrieveImagingDocumentSetRequest xmlns:iherad="urn:ihe:rad:xdsi-b:2009" xmlns:xdsb="urn:ihe:iti:xds-b:2007"><iherad:StudyRequest studyInstanceUID="${first.studyUid}"><iherad:SeriesRequest seriesInstanceUID="${first.seriesUid}">${docs}</iherad:SeriesRequest></iherad:StudyRequest><iherad:TransferSyntaxUIDList><iherad:TransferSyntaxUID>1.2.840.10008.1.2.1</iherad:TransferSyntaxUID></iherad:TransferSyntaxUIDList></iherad:RetrieveImagingDocumentSetRequest>`;
}

interface EnvelopeOptions {
  action?: string | null;
  ns?: string;
  mustUnderstand?: boolean;
  extraHeader?: string;
}

/** A SOAP envelope with Metro-style WS-Addressing headers. */
function envelope(url: string, o: EnvelopeOptions = {}): string {
  const ns = o.ns ?? SOAP12;
  const mu = o.mustUnderstand ? ` S:mustUnderstand="true"` : "";
  const action = o.action === null
    ? ""
    : `<Action xmlns="http://www.w3.org/2005/08/addressing"${mu}>${
      o.action ?? ACTION
    }</Action>`;
  return `<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="${ns}"><S:Header><To xmlns="http://www.w3.org/2005/08/addressing"${mu}>${url}</To>${action}<ReplyTo xmlns="http://www.w3.org/2005/08/addressing">
    <Address>http://www.w3.org/2005/08/addressing/anonymous</Address>
</ReplyTo><FaultTo xmlns="http://www.w3.org/2005/08/addressing">
    <Address>http://www.w3.org/2005/08/addressing/anonymous</Address>
</FaultTo><MessageID xmlns="http://www.w3.org/2005/08/addressing">uuid:e7f60efa-202c-4010-84ae-b59bff335615</MessageID>${
    o.extraHeader ?? ""
  }</S:Header><S:Body>${requestBody()}</S:Body></S:Envelope>`;
}

/** A one-part MTOM package. */
function mtom(
  boundary: string,
  rootHeaders: string[],
  xml: string,
  preamble = "",
): string {
  return `${preamble}--${boundary}\r\n${
    rootHeaders.join("\r\n")
  }\r\n\r\n${xml}\r\n--${boundary}--\r\n`;
}

/** A framing a client stack sends: Content-Type and body. */
interface Framing {
  contentType: string;
  body: string;
}

type FramingFactory = (url: string, o?: EnvelopeOptions) => Framing;

const METRO_ID = "bc06ac0c-b9bd-4c5d-a62e-0da467914acd";

/** What each client stack sends, keyed by stack. */
const FRAMINGS: Record<string, FramingFactory> = {
  "JAX-WS RI (Metro) MTOM": (url, o) => ({
    contentType:
      `multipart/related;start="<rootpart*${METRO_ID}@example.jaxws.sun.com>";type="application/xop+xml";boundary="uuid:${METRO_ID}";start-info="application/soap+xml;action=\\"${ACTION}\\""`,
    body: mtom(`uuid:${METRO_ID}`, [
      `Content-Id: <rootpart*${METRO_ID}@example.jaxws.sun.com>`,
      `Content-Type: application/xop+xml;charset=utf-8;type="application/soap+xml;action=\\"${ACTION}\\""`,
      "Content-Transfer-Encoding: binary",
    ], envelope(url, o)),
  }),
  "JAX-WS RI (Metro) plain": (url, o) => ({
    contentType: `application/soap+xml; charset=utf-8;action="${ACTION}"`,
    body: envelope(url, o),
  }),
  "Apache CXF MTOM": (url, o) => ({
    contentType:
      `multipart/related; type="application/xop+xml"; boundary="uuid:7d1c7a51-5b50-4a57-9d1a-5c2f0c6b1f00"; start="<root.message@cxf.apache.org>"; start-info="application/soap+xml"; action="${ACTION}"`,
    body: mtom(
      "uuid:7d1c7a51-5b50-4a57-9d1a-5c2f0c6b1f00",
      [
        `Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"; action="${ACTION}"`,
        "Content-Transfer-Encoding: binary",
        "Content-ID: <root.message@cxf.apache.org>",
      ],
      envelope(url, o),
      "\r\n",
    ),
  }),
  "Apache Axis2 MTOM": (url, o) => ({
    contentType:
      `multipart/related; boundary=MIMEBoundary_3a3c6f1e2d; type="application/xop+xml"; start="<0.urn:uuid:3A3C6F1E2D@apache.org>"; start-info="application/soap+xml"; action="${ACTION}"`,
    body: mtom("MIMEBoundary_3a3c6f1e2d", [
      `Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"`,
      "Content-Transfer-Encoding: binary",
      "Content-ID: <0.urn:uuid:3A3C6F1E2D@apache.org>",
    ], envelope(url, o)),
  }),
  ".NET WCF MTOM (action only in wsa:Action)": (url, o) => ({
    contentType:
      `multipart/related; type="application/xop+xml";start="<http://tempuri.org/0>";boundary="uuid:0a8d3c8e-54b1-4a8f-9a51-7a25a3c2e0b1+id=1";start-info="application/soap+xml"`,
    body: mtom("uuid:0a8d3c8e-54b1-4a8f-9a51-7a25a3c2e0b1+id=1", [
      "Content-ID: <http://tempuri.org/0>",
      "Content-Transfer-Encoding: 8bit",
      `Content-Type: application/xop+xml;charset=utf-8;type="application/soap+xml"`,
    ], envelope(url, o)),
  }),
  // gSOAP 2.8.124 writes every MTOM message this way (seen in
  // tests/interop_gsoap_test.ts): charset on the multipart itself, bare
  // start-info, action parameter, root part headers in this order.
  "gSOAP MTOM": (url, o) => ({
    contentType:
      `multipart/related; charset=utf-8; boundary="==nGpzR/KspN6ry7jG8CU4bonN2aujzfJamyN3xYjaldFXYpeUryNGb0UROC0B=="; type="application/xop+xml"; start="<SOAP-ENV:Envelope>"; start-info="application/soap+xml"; action="${ACTION}"`,
    body: mtom(
      "==nGpzR/KspN6ry7jG8CU4bonN2aujzfJamyN3xYjaldFXYpeUryNGb0UROC0B==",
      [
        `Content-Type: application/xop+xml; charset=utf-8; type="application/soap+xml"`,
        "Content-Transfer-Encoding: binary",
        "Content-ID: <SOAP-ENV:Envelope>",
      ],
      envelope(url, o),
    ),
  }),
  "gSOAP plain (with a SOAPAction header too)": (url, o) => ({
    contentType: `application/soap+xml; charset=utf-8; action="${ACTION}"`,
    body: envelope(url, o),
  }),
  "parameters on start-info and on the root type": (url, o) => ({
    contentType:
      `multipart/related; type="application/xop+xml"; boundary="p"; start="<r@x>"; start-info="application/soap+xml; charset=utf-8; action=${ACTION}"`,
    body: mtom(
      "p",
      [
        "Content-ID: <r@x>",
        `Content-Type: application/xop+xml; charset=utf-8; type="application/soap+xml; charset=utf-8; action=${ACTION}"`,
      ],
      envelope(url, o),
      "\r\n",
    ),
  }),
  "any case, bare values, no start": (url, o) => ({
    contentType:
      `Multipart/Related; BOUNDARY=b0undary; TYPE=Application/XOP+XML; Action=${ACTION}`,
    body: mtom("b0undary", [
      `content-type: Application/XOP+XML; CHARSET=UTF-8; Type=Application/SOAP+XML`,
    ], envelope(url, o)),
  }),
};

/** POSTs a framing and reads the answer. */
async function post(
  url: string,
  framing: Framing,
): Promise<{ status: number; contentType: string; text: string }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": framing.contentType },
    body: framing.body,
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}

Deno.test("FakeRad69Server accepts the MTOM and plain framings of real SOAP stacks", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  for (const [stack, make] of Object.entries(FRAMINGS)) {
    await t.step(stack, async () => {
      const before = server.requests.length;
      const answer = await post(server.url, make(server.url));
      const record = server.requests[before]!;
      assert.equal(record.validationError, undefined, stack);
      assert.equal(answer.status, 200, answer.text.slice(0, 500));
      assert.ok(record.valid);
      assert.equal(record.action, ACTION);
      assert.equal(record.to, server.url);
      assert.deepEqual(
        record.documentUniqueIds,
        STUDY.map((i) => i.instanceUid),
      );
      assert.match(answer.contentType, /^multipart\/related/);
      assert.match(answer.text, /ResponseStatusType:Success/);
    });
  }
});

/** Asserts the answer is a SOAP 1.2 Fault with this code, subcode, reason. */
function assertFault(
  answer: { status: number; text: string },
  expected: { status: number; code: string; subcode?: string; reason: RegExp },
): void {
  const fault = findSoapFault(answer.text, answer.status);
  assert.ok(fault, `no Fault in: ${answer.text.slice(0, 300)}`);
  assert.equal(answer.status, expected.status, fault.message);
  assert.equal(fault.code, `env:${expected.code}`, fault.message);
  assert.equal(fault.subcode, expected.subcode ?? "", fault.message);
  assert.match(fault.reason, expected.reason);
}

Deno.test("FakeRad69Server refuses what is truly wrong with a precise Fault", async (t) => {
  await using server = await FakeRad69Server.start({ instances: STUDY });
  const metro = FRAMINGS["JAX-WS RI (Metro) MTOM"]!;
  const plain = FRAMINGS["JAX-WS RI (Metro) plain"]!;

  await t.step("no part has the start Content-ID", async () => {
    const f = metro(server.url);
    const answer = await post(server.url, {
      ...f,
      contentType: f.contentType.replace("rootpart*", "elsewhere*"),
    });
    assertFault(answer, {
      status: 400,
      code: "Sender",
      reason: /No part has the start Content-ID "<elsewhere\*/,
    });
  });
  await t.step("another action in the root part's type", async () => {
    const f = metro(server.url);
    const answer = await post(server.url, {
      ...f,
      body: f.body.replace(
        `action=\\"${ACTION}\\""`,
        `action=\\"urn:ihe:iti:2007:RetrieveDocumentSet\\""`,
      ),
    });
    assertFault(answer, {
      status: 400,
      code: "Sender",
      subcode: "wsa:ActionMismatch",
      reason:
        /root part type action "urn:ihe:iti:2007:RetrieveDocumentSet" differs from wsa:Action/,
    });
  });
  await t.step("another action on the outer MTOM Content-Type", async () => {
    const f = FRAMINGS["Apache CXF MTOM"]!(server.url);
    const answer = await post(server.url, {
      ...f,
      contentType: f.contentType.replace(ACTION, "urn:wrong"),
    });
    assertFault(answer, {
      status: 400,
      code: "Sender",
      subcode: "wsa:ActionMismatch",
      reason: /Content-Type action "urn:wrong"/,
    });
  });
  await t.step("another wsa:Action", async () => {
    const answer = await post(
      server.url,
      // The fake serves RAD-69 and ITI-43; ITI-41 is not one of its actions.
      plain(server.url, {
        action: "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b",
      }),
    );
    assertFault(answer, {
      status: 400,
      code: "Sender",
      subcode: "wsa:ActionNotSupported",
      reason:
        /"urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b" cannot be processed/,
    });
  });
  await t.step("no wsa:Action, even with a Content-Type action", async () => {
    const answer = await post(server.url, plain(server.url, { action: null }));
    assertFault(answer, {
      status: 400,
      code: "Sender",
      subcode: "wsa:MessageAddressingHeaderRequired",
      reason: /not present: Action/,
    });
  });
  await t.step("a SOAP 1.1 envelope in an MTOM package", async () => {
    const answer = await post(server.url, metro(server.url, { ns: SOAP11 }));
    assertFault(answer, {
      status: 500,
      code: "VersionMismatch",
      reason: /SOAP 1\.1 envelope/,
    });
  });
  await t.step("SOAP 1.1 (text/xml) as the root part's type", async () => {
    const f = metro(server.url);
    const answer = await post(server.url, {
      ...f,
      body: f.body.replace(
        `type="application/soap+xml;action=\\"${ACTION}\\""`,
        `type="text/xml"`,
      ),
    });
    assertFault(answer, {
      status: 500,
      code: "VersionMismatch",
      reason: /root part's type parameter is "text\/xml", SOAP 1\.1/,
    });
  });
  await t.step("SOAP 1.1 (text/xml) as start-info", async () => {
    const f = metro(server.url);
    const answer = await post(server.url, {
      ...f,
      contentType: f.contentType.replace(
        /start-info="[^]*$/,
        `start-info="text/xml"`,
      ),
    });
    assertFault(answer, {
      status: 500,
      code: "VersionMismatch",
      reason: /start-info parameter is "text\/xml"/,
    });
  });
  await t.step("SOAP 1.1 (text/xml) as the Content-Type", async () => {
    const f = plain(server.url, { ns: SOAP11 });
    const answer = await post(server.url, {
      ...f,
      contentType: `text/xml; charset=utf-8`,
    });
    assertFault(answer, {
      status: 415,
      code: "VersionMismatch",
      reason: /"text\/xml" is SOAP 1\.1/,
    });
  });
  await t.step("a root part that is not XOP", async () => {
    const f = metro(server.url);
    const answer = await post(server.url, {
      ...f,
      body: f.body.replace(
        "Content-Type: application/xop+xml;",
        "Content-Type: application/octet-stream;",
      ),
    });
    assertFault(answer, {
      status: 400,
      code: "Sender",
      reason: /Root part of type "application\/octet-stream"/,
    });
  });
  assert.ok(server.requests.every((r) => !r.valid));
});

Deno.test("FakeRad69Server processAddressing: false faults mustUnderstand WS-Addressing headers like JAX-WS RI", async (t) => {
  await using server = await FakeRad69Server.start({
    instances: STUDY,
    processAddressing: false,
  });
  await t.step(
    "the client's default request gets a MustUnderstand Fault naming the option",
    async () => {
      const client = new Rad69Client({ url: server.url, retries: 0 });
      await assert.rejects(client.getDataset(STUDY[0]!), (e) => {
        assert.ok(e instanceof SoapFaultError, String(e));
        assert.equal(e.code, "env:MustUnderstand");
        assert.equal(e.status, 500);
        assert.equal(
          e.reason,
          "One or more mandatory SOAP header blocks not understood",
        );
        assert.match(e.message, /addressingMustUnderstand: false/);
        assert.match(e.message, /--no-must-understand/);
        return true;
      });
      assert.match(server.requests.at(-1)!.soapXml, /mustUnderstand="1"/);
    },
  );
  await t.step(
    "addressingMustUnderstand: false gets the documents",
    async () => {
      for (const mtom of [false, true]) {
        const client = new Rad69Client({
          url: server.url,
          mtom,
          addressingMustUnderstand: false,
        });
        const got = await Array.fromAsync(client.datasets(STUDY));
        assert.deepEqual(got.map((d) => d.bytes), STUDY.map((i) => i.bytes));
        const last = server.requests.at(-1)!;
        assert.ok(last.valid);
        assert.equal(last.mtom, mtom);
        assert.ok(!last.soapXml.includes("mustUnderstand"));
      }
    },
  );
  await t.step(
    "a Metro request (no mustUnderstand) passes, a mustUnderstand one does not",
    async () => {
      const metro = FRAMINGS["JAX-WS RI (Metro) MTOM"]!;
      assert.equal((await post(server.url, metro(server.url))).status, 200);
      const answer = await post(
        server.url,
        metro(server.url, { mustUnderstand: true }),
      );
      assertFault(answer, {
        status: 500,
        code: "MustUnderstand",
        reason: /^One or more mandatory SOAP header blocks not understood$/,
      });
      assert.match(findSoapFault(answer.text, 500)!.message, /--no-must/);
    },
  );
  await t.step(
    "without wsa:Action the Content-Type action still counts",
    async () => {
      const plain = FRAMINGS["JAX-WS RI (Metro) plain"]!;
      assert.equal(
        (await post(server.url, plain(server.url, { action: null }))).status,
        200,
      );
      const f = plain(server.url, { action: null });
      const answer = await post(server.url, {
        ...f,
        contentType: f.contentType.replace(ACTION, "urn:wrong"),
      });
      assertFault(answer, {
        status: 400,
        code: "Sender",
        reason: /Content-Type action "urn:wrong" cannot be processed/,
      });
    },
  );
  await t.step(
    "the default server still understands the same request",
    async () => {
      await using strict = await FakeRad69Server.start({ instances: STUDY });
      const client = new Rad69Client({ url: strict.url });
      assert.equal((await client.getDataset(STUDY[0]!)).bytes.length > 0, true);
      assert.match(strict.requests[0]!.soapXml, /mustUnderstand="1"/);
    },
  );
});
