/**
 * ITI-18 / ITI-38 FindDocuments: the request the client builds (parsed back
 * with the package's XML reader: slots, quoting, escaping, checks), the
 * answers of real registries it reads, and `findDocuments` on loopback
 * against the fake registry and gateway (filters, registry errors, log-ins,
 * limits).
 */
import assert from "node:assert/strict";
import {
  AuthenticationError,
  InvalidQueryParameterError,
  LimitExceededError,
  Rad69HttpError,
  Rad69ProtocolError,
  RegistryQueryError,
  SoapFaultError,
  XDSTooManyResultsError,
} from "../src/errors.ts";
import {
  buildFindDocumentsRequest,
  FIND_DOCUMENTS_QUERY_ID,
  findDocuments,
  type FindDocumentsQuery,
  ITI18_ACTION,
  ITI38_ACTION,
  KOS_FORMAT_CODE,
  parseFindDocumentsResponse,
} from "../src/xds/iti18.ts";
import { child, childrenNamed, parseXml, type XmlElement } from "../src/xml.ts";
import { type FakeDocumentEntry, FakeXdsRegistry } from "../src/testing/mod.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const SOAP = "http://www.w3.org/2003/05/soap-envelope";
const WSA = "http://www.w3.org/2005/08/addressing";
const QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
const RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
const RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
const APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved";
const SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
const PARTIAL = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";
const FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
const ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";
const WARNING = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning";
const WSSE =
  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const URL_ = "http://registry.example:8080/xds/registry";
const PATIENT = "PID-1^^^&1.3.6.1.4.1.21367.2005.13.20.1000&ISO";
const KOS = "1.2.840.10008.5.1.4.1.1.88.59^^1.2.840.10008.2.6.1";

/** The AdhocQuery of a built request, and its slots as name → values. */
function readQuery(xml: string): {
  envelope: XmlElement;
  request: XmlElement;
  query: XmlElement;
  slots: [string, string[]][];
} {
  const envelope = parseXml(xml);
  assert.equal(envelope.ns, SOAP);
  const body = child(envelope, SOAP, "Body")!;
  assert.equal(body.children.length, 1);
  const request = body.children[0]!;
  assert.equal(request.ns, QUERY);
  assert.equal(request.local, "AdhocQueryRequest");
  const query = child(request, RIM, "AdhocQuery")!;
  const slots = childrenNamed(query, RIM, "Slot").map((s): [
    string,
    string[],
  ] => [
    s.attrs["name"]!,
    childrenNamed(child(s, RIM, "ValueList")!, RIM, "Value").map((v) => v.text),
  ]);
  return { envelope, request, query, slots };
}

Deno.test("buildFindDocumentsRequest() asks for a patient's approved KOS manifests as LeafClass", () => {
  const request = buildFindDocumentsRequest({ patientId: PATIENT }, {
    url: URL_,
    messageId: "urn:uuid:00000000-0000-4000-8000-000000000001",
  });
  assert.match(request.contentType, /^application\/soap\+xml;/);
  assert.ok(request.contentType.includes(`action="${ITI18_ACTION}"`));
  assert.equal(
    request.messageId,
    "urn:uuid:00000000-0000-4000-8000-000000000001",
  );
  const { envelope, request: adhoc, query, slots } = readQuery(request.xml);
  const header = child(envelope, SOAP, "Header")!;
  assert.equal(child(header, WSA, "Action")?.text, ITI18_ACTION);
  assert.equal(child(header, WSA, "To")?.text, URL_);
  const option = child(adhoc, QUERY, "ResponseOption")!;
  assert.equal(option.attrs["returnType"], "LeafClass");
  assert.equal(option.attrs["returnComposedObjects"], "true");
  assert.equal(query.attrs["id"], FIND_DOCUMENTS_QUERY_ID);
  assert.equal(query.attrs["home"], undefined);
  assert.deepEqual(slots, [
    ["$XDSDocumentEntryPatientId", [`'${PATIENT}'`]],
    ["$XDSDocumentEntryStatus", [`('${APPROVED}')`]],
    ["$XDSDocumentEntryFormatCode", [`('${KOS}')`]],
  ]);
  // The raw XML escapes the ampersands of the CX.
  assert.ok(request.xml.includes("PID-1^^^&amp;1.3.6.1.4.1.21367"));
});

Deno.test("buildFindDocumentsRequest() sends the optional filters as ebRS slots", async (t) => {
  await t.step("kosOnly: false sends no formatCode", () => {
    const { slots } = readQuery(
      buildFindDocumentsRequest({ patientId: PATIENT, kosOnly: false }, {
        url: URL_,
      }).xml,
    );
    assert.deepEqual(slots.map(([n]) => n), [
      "$XDSDocumentEntryPatientId",
      "$XDSDocumentEntryStatus",
    ]);
  });
  await t.step("codes: one Value per code, code^^scheme", () => {
    const { slots } = readQuery(
      buildFindDocumentsRequest({
        patientId: PATIENT,
        formatCodes: [KOS_FORMAT_CODE, { code: "urn:x:y", scheme: "S 1" }],
        classCodes: [{ code: "IMG", scheme: "1.2.3.4" }],
        typeCodes: [{ code: "18748-4", scheme: "2.16.840.1.113883.6.1" }],
      }, { url: URL_ }).xml,
    );
    assert.deepEqual(slots.slice(2), [
      ["$XDSDocumentEntryFormatCode", [`('${KOS}')`, "('urn:x:y^^S 1')"]],
      ["$XDSDocumentEntryClassCode", ["('IMG^^1.2.3.4')"]],
      ["$XDSDocumentEntryTypeCode", ["('18748-4^^2.16.840.1.113883.6.1')"]],
    ]);
  });
  await t.step("service start times: DTM, unquoted", () => {
    for (
      const [from, to, expected] of [
        [
          new Date("2024-03-15T10:20:30.456Z"),
          new Date("2024-03-16T00:00:00Z"),
          ["20240315102030", "20240316000000"],
        ],
        ["2024-01-31", "2024-02-01", ["20240131", "20240201"]],
        ["2024", "202501011230", ["2024", "202501011230"]],
      ] as const
    ) {
      const { slots } = readQuery(
        buildFindDocumentsRequest({
          patientId: PATIENT,
          serviceStartFrom: from,
          serviceStartTo: to,
        }, { url: URL_ }).xml,
      );
      assert.deepEqual(slots.slice(3), [
        ["$XDSDocumentEntryServiceStartTimeFrom", [expected[0]]],
        ["$XDSDocumentEntryServiceStartTimeTo", [expected[1]]],
      ]);
    }
  });
  await t.step("a quote is doubled, XML specials are escaped", () => {
    const request = buildFindDocumentsRequest({
      patientId: "O'Neil<1>^^^&1.2.3&ISO",
      formatCodes: [{ code: "a'b<c>", scheme: `"s"` }],
    }, { url: URL_ });
    const { slots } = readQuery(request.xml);
    assert.deepEqual(slots[0], [
      "$XDSDocumentEntryPatientId",
      ["'O''Neil<1>^^^&1.2.3&ISO'"],
    ]);
    assert.deepEqual(slots[2], [
      "$XDSDocumentEntryFormatCode",
      [`('a''b<c>^^"s"')`],
    ]);
    assert.ok(request.xml.includes("O&apos;&apos;Neil&lt;1&gt;"));
    assert.ok(!request.xml.includes("<1>"));
  });
  await t.step(
    "ITI-38: the cross-gateway action and the home attribute",
    () => {
      const request = buildFindDocumentsRequest({ patientId: PATIENT }, {
        url: URL_,
        crossGateway: true,
        homeCommunityId: 'urn:oid:1.2.3.99"',
      });
      assert.ok(request.contentType.includes(`action="${ITI38_ACTION}"`));
      const { envelope, query } = readQuery(request.xml);
      assert.equal(query.attrs["home"], 'urn:oid:1.2.3.99"');
      assert.equal(
        child(child(envelope, SOAP, "Header")!, WSA, "Action")?.text,
        ITI38_ACTION,
      );
    },
  );
  await t.step("the security header goes in byte for byte", () => {
    const security =
      `<wsse:Security xmlns:wsse="${WSSE}"><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"  ID="_x" Version="2.0"/></wsse:Security>`;
    const request = buildFindDocumentsRequest({ patientId: PATIENT }, {
      url: URL_,
      securityHeader: security,
      addressingMustUnderstand: false,
    });
    assert.ok(request.xml.includes(security));
    assert.ok(!request.xml.includes("mustUnderstand"));
  });
});

Deno.test("buildFindDocumentsRequest() names what is wrong with a query", () => {
  const cases: [Partial<FindDocumentsQuery> | unknown, string, RegExp][] = [
    [{ patientId: "" }, "query.patientId", /empty ID/],
    [{ patientId: "12345" }, "query.patientId", /no assigning authority/],
    [{ patientId: "12345^^^" }, "query.patientId", /no assigning authority/],
    [{ patientId: "^^^&1.2.3&ISO" }, "query.patientId", /empty ID/],
    [
      { patientId: "P1^^^&1.2.x&ISO" },
      "query.patientId",
      /OID "1\.2\.x", which is not an OID/,
    ],
    [
      { patientId: "P1^^^&1.02.3&ISO" },
      "query.patientId",
      /not an OID/,
    ],
    [
      { patientId: "P1^^^&1.2.3&L" },
      "query.patientId",
      /type "L", expected "ISO"/,
    ],
    [{ patientId: "P1^^^1.2.3" }, "query.patientId", /expected &OID&ISO/],
    [
      { patientId: "P1^^^&1.2.3&ISO^PI" },
      "query.patientId",
      /components after the assigning authority/,
    ],
    [{ patientId: "P1^7^^&1.2.3&ISO" }, "query.patientId", /check digit/],
    [{ patientId: " P1^^^&1.2.3&ISO" }, "query.patientId", /white space/],
    [{ patientId: "P&1^^^&1.2.3&ISO" }, "query.patientId", /HL7 delimiter/],
    [{ patientId: 42 }, "query.patientId", /is a number/],
    [
      { patientId: PATIENT, formatCodes: [{ code: "x" }] },
      "query.formatCodes[0].scheme",
      /non-empty string/,
    ],
    [
      { patientId: PATIENT, classCodes: [{ code: "a^b", scheme: "1.2" }] },
      "query.classCodes[0].code",
      /HL7 delimiter/,
    ],
    [
      { patientId: PATIENT, typeCodes: "IMG" },
      "query.typeCodes",
      /not an array/,
    ],
    [
      { patientId: PATIENT, serviceStartFrom: "yesterday" },
      "query.serviceStartFrom",
      /not a time/,
    ],
    [
      { patientId: PATIENT, serviceStartFrom: "2024-13-01" },
      "query.serviceStartFrom",
      /not a time/,
    ],
    [
      { patientId: PATIENT, serviceStartTo: new Date("nonsense") },
      "query.serviceStartTo",
      /invalid Date/,
    ],
    [
      {
        patientId: PATIENT,
        serviceStartFrom: "2024-02-01",
        serviceStartTo: "20240201",
      },
      "query.serviceStartTo",
      /not after serviceStartFrom "20240201"/,
    ],
    [null, "query", /not a FindDocuments query/],
  ];
  for (const [query, where, message] of cases) {
    assert.throws(
      () =>
        buildFindDocumentsRequest(query as FindDocumentsQuery, { url: URL_ }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidQueryParameterError, String(e));
        assert.equal(e.where, where, JSON.stringify(query));
        assert.match(e.message, message);
        assert.ok(e.message.startsWith(`Invalid query parameter ${where}: "`));
        return true;
      },
      JSON.stringify(query),
    );
  }
});

// ---------------------------------------------------------------------------
// Answers

/** An ExtrinsicObject the way IPF, NIST and dcm4chee write them. */
function extrinsic(
  rim: string,
  uid: string,
  extra: { home?: string; mime?: string; repo?: string } = {},
): string {
  const p = rim === "" ? "" : `${rim}:`;
  const slot = (n: string, v: string) =>
    `<${p}Slot name="${n}"><${p}ValueList><${p}Value>${v}</${p}Value></${p}ValueList></${p}Slot>`;
  return `<${p}ExtrinsicObject id="urn:uuid:e-${uid}" mimeType="${
    extra.mime ?? "application/dicom"
  }" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1" status="${APPROVED}"${
    extra.home ? ` home="${extra.home}"` : ""
  }>${slot("creationTime", "20240315103000")}${slot("hash", "da39a3ee")}${
    slot("repositoryUniqueId", extra.repo ?? "1.2.3.4.5")
  }${slot("serviceStartTime", "20240315101500")}${
    slot("serviceStopTime", "20240315104500")
  }${slot("size", "4096")}${
    slot("sourcePatientId", "LOCAL-7^^^&amp;1.2.9&amp;ISO")
  }<${p}Name><${p}LocalizedString value="CT chest &amp; abdomen"/></${p}Name><${p}Classification classificationScheme="urn:uuid:a09d5840-386f-4076-9f5a-a4f6f6ad7c1a" classifiedObject="urn:uuid:e-${uid}" nodeRepresentation="1.2.840.10008.5.1.4.1.1.88.59">${
    slot("codingScheme", "1.2.840.10008.2.6.1")
  }<${p}Name><${p}LocalizedString value="Key Object Selection"/></${p}Name></${p}Classification><${p}Classification classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a" classifiedObject="urn:uuid:e-${uid}" nodeRepresentation="IMG">${
    slot("codingScheme", "1.2.3.4")
  }</${p}Classification><${p}ExternalIdentifier identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="${
    PATIENT.replaceAll(
      "&",
      "&amp;",
    )
  }" registryObject="urn:uuid:e-${uid}"/><${p}ExternalIdentifier identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="${uid}" registryObject="urn:uuid:e-${uid}"/></${p}ExtrinsicObject>`;
}

const FULL_ENTRY = {
  entryUuid: "urn:uuid:e-1.2.3.4.100",
  uniqueId: "1.2.3.4.100",
  repositoryUniqueId: "1.2.3.4.5",
  patientId: PATIENT,
  mimeType: "application/dicom",
  status: APPROVED,
  objectType: "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1",
  sourcePatientId: "LOCAL-7^^^&1.2.9&ISO",
  title: "CT chest & abdomen",
  creationTime: "20240315103000",
  serviceStartTime: "20240315101500",
  serviceStopTime: "20240315104500",
  size: 4096,
  hash: "da39a3ee",
  formatCode: {
    code: "1.2.840.10008.5.1.4.1.1.88.59",
    scheme: "1.2.840.10008.2.6.1",
    displayName: "Key Object Selection",
  },
  classCode: { code: "IMG", scheme: "1.2.3.4" },
};

const ANSWERS: { name: string; xml: string; homes: (string | undefined)[] }[] =
  [
    {
      name: "IPF (query:/rim:/rs: prefixes)",
      xml:
        `<env:Envelope xmlns:env="${SOAP}"><env:Header><wsa:Action xmlns:wsa="${WSA}">urn:ihe:iti:2007:RegistryStoredQueryResponse</wsa:Action></env:Header><env:Body><query:AdhocQueryResponse xmlns:query="${QUERY}" xmlns:rim="${RIM}" xmlns:rs="${RS}" status="${SUCCESS}"><rim:RegistryObjectList>${
          extrinsic("rim", "1.2.3.4.100")
        }${
          extrinsic("rim", "1.2.3.4.101", { repo: "1.2.3.4.6" })
        }</rim:RegistryObjectList></query:AdhocQueryResponse></env:Body></env:Envelope>`,
      homes: [undefined, undefined],
    },
    {
      name: "NIST toolkit (default namespaces, SOAP 1.2 'S' prefix)",
      xml:
        `<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="${SOAP}"><S:Body><AdhocQueryResponse xmlns="${QUERY}" status="${SUCCESS}"><RegistryObjectList xmlns="${RIM}">${
          extrinsic("", "1.2.3.4.100", { home: "urn:oid:1.2.3.99" })
        }${
          extrinsic("", "1.2.3.4.101", {
            home: "urn:oid:1.2.3.99",
            repo: "1.2.3.4.6",
          })
        }</RegistryObjectList></AdhocQueryResponse></S:Body></S:Envelope>`,
      homes: ["urn:oid:1.2.3.99", "urn:oid:1.2.3.99"],
    },
    {
      name: "dcm4chee-xds (JAXB ns2/ns3/ns4 prefixes)",
      xml:
        `<soap:Envelope xmlns:soap="${SOAP}"><soap:Body><ns4:AdhocQueryResponse xmlns:ns2="${RIM}" xmlns:ns3="${RS}" xmlns:ns4="${QUERY}" status="${SUCCESS}"><ns2:RegistryObjectList>${
          extrinsic("ns2", "1.2.3.4.100")
        }${
          extrinsic("ns2", "1.2.3.4.101", {
            repo: "1.2.3.4.6",
            home: "urn:oid:1.2.3.98",
          })
        }</ns2:RegistryObjectList></ns4:AdhocQueryResponse></soap:Body></soap:Envelope>`,
      homes: [undefined, "urn:oid:1.2.3.98"],
    },
  ];

Deno.test("parseFindDocumentsResponse() reads real registries' answers", async (t) => {
  for (const answer of ANSWERS) {
    await t.step(answer.name, () => {
      const response = parseFindDocumentsResponse(
        new TextEncoder().encode(answer.xml),
      );
      assert.equal(response.status, "Success");
      assert.deepEqual(response.errors, []);
      assert.equal(response.documents.length, 2);
      const [first, second] = response.documents;
      const { homeCommunityId: _, ...rest } = first!;
      assert.deepEqual(rest, FULL_ENTRY);
      assert.equal(first!.homeCommunityId, answer.homes[0]);
      assert.equal(second!.uniqueId, "1.2.3.4.101");
      assert.equal(second!.repositoryUniqueId, "1.2.3.4.6");
      assert.equal(second!.homeCommunityId, answer.homes[1]);
    });
  }
});

/** An AdhocQueryResponse with a status, errors and objects. */
function answer(status: string, errors = "", objects = ""): string {
  return `<e:Envelope xmlns:e="${SOAP}"><e:Body><q:AdhocQueryResponse xmlns:q="${QUERY}" xmlns:r="${RS}" xmlns:rim="${RIM}" status="${status}">${
    errors ? `<r:RegistryErrorList>${errors}</r:RegistryErrorList>` : ""
  }<rim:RegistryObjectList>${objects}</rim:RegistryObjectList></q:AdhocQueryResponse></e:Body></e:Envelope>`;
}

/** One rs:RegistryError. */
function regError(
  code: string,
  context: string,
  location = "",
  severity = ERROR,
): string {
  return `<r:RegistryError errorCode="${code}" codeContext="${context}" location="${location}" severity="${severity}"/>`;
}

Deno.test("parseFindDocumentsResponse() keeps what a partial or warned answer says", () => {
  const partial = parseFindDocumentsResponse(answer(
    PARTIAL,
    regError(
      "XDSUnavailableCommunity",
      "Community B is down",
      "urn:oid:1.2.3.77",
    ),
    extrinsic("rim", "1.2.3.4.100"),
  ));
  assert.equal(partial.status, "PartialSuccess");
  assert.equal(partial.documents.length, 1);
  assert.deepEqual(partial.errors, [{
    code: "XDSUnavailableCommunity",
    context: "Community B is down",
    location: "urn:oid:1.2.3.77",
    severity: ERROR,
    isWarning: false,
  }]);
  const warned = parseFindDocumentsResponse(answer(
    SUCCESS,
    regError("XDSExtraMetadataNotSaved", "ignored slot", "", WARNING),
  ));
  assert.equal(warned.status, "Success");
  assert.deepEqual(warned.documents, []);
  assert.equal(warned.errors[0]?.isWarning, true);
});

Deno.test("parseFindDocumentsResponse() throws a Failure with the registry's codes", async (t) => {
  await t.step("RegistryQueryError lists every error", () => {
    assert.throws(
      () =>
        parseFindDocumentsResponse(
          answer(
            FAILURE,
            regError("XDSRegistryError", "Database unavailable", "reg-1") +
              regError("XDSRegistryBusy", "Try later"),
          ),
          { what: "ITI-18 query to http://r.example" },
        ),
      (e: unknown) => {
        assert.ok(e instanceof RegistryQueryError, String(e));
        assert.ok(!(e instanceof XDSTooManyResultsError));
        assert.equal(e.code, "XDSRegistryError");
        assert.equal(e.context, "Database unavailable");
        assert.equal(e.location, "reg-1");
        assert.equal(e.severity, ERROR);
        assert.equal(e.status, "Failure");
        assert.deepEqual(e.errors.map((x) => x.code), [
          "XDSRegistryError",
          "XDSRegistryBusy",
        ]);
        assert.equal(
          e.message,
          'The ITI-18 query to http://r.example failed: XDSRegistryError: Database unavailable (location "reg-1") (and 1 more)',
        );
        return true;
      },
    );
  });
  await t.step("XDSTooManyResults has its own class", () => {
    assert.throws(
      () =>
        parseFindDocumentsResponse(answer(
          FAILURE,
          regError("XDSTooManyResults", "More than 1000 entries"),
        )),
      (e: unknown) =>
        e instanceof XDSTooManyResultsError &&
        e instanceof RegistryQueryError && e.code === "XDSTooManyResults" &&
        e.name === "XDSTooManyResultsError",
    );
  });
  await t.step("a Failure without an error still fails", () => {
    assert.throws(
      () => parseFindDocumentsResponse(answer(FAILURE)),
      (e: unknown) =>
        e instanceof RegistryQueryError && e.code === "" &&
        /no RegistryError given/.test(e.message),
    );
  });
  await t.step("a SOAP Fault", () => {
    const fault =
      `<env:Envelope xmlns:env="${SOAP}"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">Registry down</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`;
    assert.throws(
      () => parseFindDocumentsResponse(fault, { httpStatus: 500 }),
      (e: unknown) =>
        e instanceof SoapFaultError && e.reason === "Registry down" &&
        e.status === 500,
    );
  });
});

Deno.test("parseFindDocumentsResponse() rejects what is not a FindDocuments answer", () => {
  const cases: [string, RegExp][] = [
    [
      `<e:Envelope xmlns:e="${SOAP}"><e:Body><x:Other xmlns:x="urn:x"/></e:Body></e:Envelope>`,
      /no query:AdhocQueryResponse \(found "x:Other" in namespace "urn:x"\)/,
    ],
    [
      // Right local name, wrong namespace: read by URI only.
      `<e:Envelope xmlns:e="${SOAP}"><e:Body><query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:2.1" status="${SUCCESS}"/></e:Body></e:Envelope>`,
      /no query:AdhocQueryResponse/,
    ],
    [answer("urn:x:Maybe"), /unknown AdhocQueryResponse status "urn:x:Maybe"/],
    [
      answer(SUCCESS).replace(` status="${SUCCESS}"`, ""),
      /the AdhocQueryResponse has no status/,
    ],
    [
      answer(
        SUCCESS,
        "",
        extrinsic("rim", "1.2.3.4.100").replace(
          "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab",
          "urn:uuid:other",
        ),
      ),
      /ExtrinsicObject 1 \("urn:uuid:e-1\.2\.3\.4\.100"\) has no XDSDocumentEntry\.uniqueId/,
    ],
    [
      answer(SUCCESS, "", `<rim:ObjectRef id="urn:uuid:1"/>`),
      /answered 1 ObjectRef\(s\) where LeafClass objects/,
    ],
    [`<html>Bad gateway</html>`, /not a SOAP 1\.2 or 1\.1 Envelope/],
  ];
  for (const [xml, message] of cases) {
    assert.throws(() => parseFindDocumentsResponse(xml), (e: unknown) => {
      assert.ok(e instanceof Rad69ProtocolError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  // Entries in another namespace are not DocumentEntries.
  const foreign = answer(
    SUCCESS,
    "",
    extrinsic("x", "1.2.3.4.100").replace(
      "<x:ExtrinsicObject ",
      `<x:ExtrinsicObject xmlns:x="urn:x" `,
    ) + extrinsic("rim", "1.2.3.4.101"),
  );
  assert.deepEqual(
    parseFindDocumentsResponse(foreign).documents.map((d) => d.uniqueId),
    ["1.2.3.4.101"],
  );
});

// ---------------------------------------------------------------------------
// Loopback

const OTHER_PATIENT = "PID-2^^^&1.3.6.1.4.1.21367.2005.13.20.1000&ISO";

/** The entries of a patient with KOS and other documents. */
const ENTRIES: FakeDocumentEntry[] = [
  {
    patientId: PATIENT,
    uniqueId: "1.2.3.4.100",
    repositoryUniqueId: "1.2.3.4.5",
    serviceStartTime: "20240105",
    title: "CT head",
  },
  {
    patientId: PATIENT,
    uniqueId: "1.2.3.4.101",
    repositoryUniqueId: "1.2.3.4.6",
    serviceStartTime: "20240620101500",
    homeCommunityId: "urn:oid:1.2.3.98",
  },
  {
    // A KOS format code, but not DICOM: dropped by the client.
    patientId: PATIENT,
    uniqueId: "1.2.3.4.102",
    repositoryUniqueId: "1.2.3.4.5",
    mimeType: "application/octet-stream",
  },
  {
    patientId: PATIENT,
    uniqueId: "1.2.3.4.200",
    repositoryUniqueId: "1.2.3.4.5",
    mimeType: "application/pdf",
    formatCode: {
      code: "urn:ihe:iti:xds-sd:pdf:2008",
      scheme: "1.3.6.1.4.1.19376.1.2.3",
    },
    serviceStartTime: "20240301",
  },
  {
    patientId: PATIENT,
    uniqueId: "1.2.3.4.300",
    repositoryUniqueId: "1.2.3.4.5",
    status: "Deprecated",
  },
  {
    patientId: OTHER_PATIENT,
    uniqueId: "1.2.3.4.400",
    repositoryUniqueId: "1.2.3.4.5",
  },
];

const FAST = { retryBaseDelayMs: 1, retryMaxDelayMs: 2, logger: {} };

Deno.test("findDocuments() finds a patient's KOS manifests in the fake registry", async () => {
  await using registry = await FakeXdsRegistry.start({ documents: ENTRIES });
  const result = await findDocuments({ patientId: PATIENT }, {
    url: registry.url,
    ...FAST,
  });
  assert.equal(result.status, "Success");
  assert.equal(result.attempts, 1);
  assert.deepEqual(result.documents.map((d) => d.uniqueId), [
    "1.2.3.4.100",
    "1.2.3.4.101",
  ]);
  assert.deepEqual(result.excluded.map((d) => d.uniqueId), ["1.2.3.4.102"]);
  const [head, second] = result.documents;
  assert.equal(head!.repositoryUniqueId, "1.2.3.4.5");
  assert.equal(head!.title, "CT head");
  assert.equal(head!.patientId, PATIENT);
  assert.deepEqual(head!.formatCode, KOS_FORMAT_CODE);
  assert.equal(head!.homeCommunityId, undefined);
  assert.equal(second!.homeCommunityId, "urn:oid:1.2.3.98");
  const [request] = registry.requests;
  assert.ok(request?.valid, request?.validationError);
  assert.equal(request.action, ITI18_ACTION);
  assert.equal(request.patientId, PATIENT);
  assert.equal(request.returnType, "LeafClass");
  assert.deepEqual(request.slots["$XDSDocumentEntryFormatCode"], [
    `('${KOS}')`,
  ]);
  assert.equal(request.answer, "Success");
});

Deno.test("findDocuments() filters on the registry side and the client side", async (t) => {
  await using registry = await FakeXdsRegistry.start({ documents: ENTRIES });
  const options = { url: registry.url, ...FAST };
  await t.step("kosOnly: false gets every approved document", async () => {
    const result = await findDocuments(
      { patientId: PATIENT, kosOnly: false },
      options,
    );
    assert.deepEqual(result.documents.map((d) => d.uniqueId), [
      "1.2.3.4.100",
      "1.2.3.4.101",
      "1.2.3.4.102",
      "1.2.3.4.200",
    ]);
    assert.deepEqual(result.excluded, []);
  });
  await t.step(
    "a service start time range (From inclusive, To exclusive)",
    async () => {
      const result = await findDocuments({
        patientId: PATIENT,
        kosOnly: false,
        serviceStartFrom: "2024-01-05",
        serviceStartTo: new Date("2024-06-20T10:15:00Z"),
      }, options);
      assert.deepEqual(result.documents.map((d) => d.uniqueId), [
        "1.2.3.4.100",
        "1.2.3.4.200",
      ]);
    },
  );
  await t.step("a patient without documents", async () => {
    const result = await findDocuments({
      patientId: "NOBODY^^^&1.2.3&ISO",
    }, options);
    assert.equal(result.status, "Success");
    assert.deepEqual(result.documents, []);
    assert.deepEqual(result.errors, []);
  });
  await t.step("a bad query is refused before anything is sent", async () => {
    const before = registry.requests.length;
    await assert.rejects(
      findDocuments({ patientId: "PID-1" }, options),
      InvalidQueryParameterError,
    );
    assert.equal(registry.requests.length, before);
  });
  for (const request of registry.requests) {
    assert.ok(request.valid, request.validationError);
  }
});

Deno.test("findDocuments() turns registry answers into typed results", async (t) => {
  await using registry = await FakeXdsRegistry.start({ documents: ENTRIES });
  const options = { url: registry.url, ...FAST };
  await t.step(
    "a registry error is a RegistryQueryError, not retried",
    async () => {
      registry.enqueue({
        registryError: { code: "XDSRegistryError", context: "Database down" },
      });
      const before = registry.requests.length;
      await assert.rejects(
        findDocuments({ patientId: PATIENT }, options),
        (e: unknown) => {
          assert.ok(e instanceof RegistryQueryError, String(e));
          assert.equal(e.code, "XDSRegistryError");
          assert.equal(e.context, "Database down");
          assert.match(
            e.message,
            new RegExp(`ITI-18 query to ${registry.url}`),
          );
          return true;
        },
      );
      assert.equal(registry.requests.length, before + 1);
    },
  );
  await t.step("too many results", async () => {
    registry.maxResults = 1;
    try {
      await assert.rejects(
        findDocuments({ patientId: PATIENT }, options),
        (e: unknown) =>
          e instanceof XDSTooManyResultsError &&
          /3 entries match/.test(e.context),
      );
    } finally {
      registry.maxResults = Infinity;
    }
  });
  await t.step(
    "a PartialSuccess keeps the documents and the errors",
    async () => {
      registry.enqueue({
        partialSuccess: {
          code: "XDSUnavailableCommunity",
          context: "B is down",
          location: "urn:oid:1.2.3.77",
        },
      });
      const result = await findDocuments({ patientId: PATIENT }, options);
      assert.equal(result.status, "PartialSuccess");
      assert.equal(result.documents.length, 2);
      assert.deepEqual(result.errors.map((e) => [e.code, e.location]), [
        ["XDSUnavailableCommunity", "urn:oid:1.2.3.77"],
      ]);
    },
  );
  await t.step("a 503 is retried", async () => {
    registry.enqueue({
      http: { status: 503, headers: { "retry-after": "0" } },
    });
    const result = await findDocuments({ patientId: PATIENT }, options);
    assert.equal(result.attempts, 2);
    assert.equal(result.documents.length, 2);
  });
  await t.step(
    "a Receiver Fault with a 503 is retried, a Sender Fault is not",
    async () => {
      registry.enqueue({
        soapFault: { code: "Receiver", reason: "busy", status: 503 },
      });
      assert.equal(
        (await findDocuments({ patientId: PATIENT }, options)).attempts,
        2,
      );
      registry.enqueue({ soapFault: { code: "Sender", reason: "no" } });
      await assert.rejects(
        findDocuments({ patientId: PATIENT }, options),
        (e: unknown) => e instanceof SoapFaultError && e.reason === "no",
      );
    },
  );
});

Deno.test("findDocuments() cuts an answer larger than maxRootPartSize", async () => {
  await using registry = await FakeXdsRegistry.start({ documents: ENTRIES });
  registry.plan = { padding: 64 * 1024 };
  await assert.rejects(
    findDocuments({ patientId: PATIENT }, {
      url: registry.url,
      maxRootPartSize: 16 * 1024,
      ...FAST,
    }),
    (e: unknown) => {
      assert.ok(e instanceof LimitExceededError, String(e));
      assert.equal(e.limit, "maxRootPartSize");
      assert.equal(e.max, 16 * 1024);
      return true;
    },
  );
  // The same answer within the limit is read.
  const result = await findDocuments({ patientId: PATIENT }, {
    url: registry.url,
    maxRootPartSize: 128 * 1024,
    ...FAST,
  });
  assert.equal(result.documents.length, 2);
});

Deno.test("findDocuments() logs in again after a 401 through onUnauthorized", async (t) => {
  await using registry = await FakeXdsRegistry.start({
    documents: ENTRIES,
    requireCredentials: "fresh-token-123456",
  });
  await t.step("without a hook: the 401", async () => {
    await assert.rejects(
      findDocuments({ patientId: PATIENT }, { url: registry.url, ...FAST }),
      (e: unknown) => e instanceof Rad69HttpError && e.status === 401,
    );
  });
  await t.step("a hook that logs in", async () => {
    const calls: number[] = [];
    const lines: string[] = [];
    const result = await findDocuments({ patientId: PATIENT }, {
      url: registry.url,
      ...FAST,
      headers: { authorization: "Bearer stale-token-123456" },
      logger: {
        debug: (m) => lines.push(m),
        info: (m) => lines.push(m),
        warn: (m) => lines.push(m),
      },
      onUnauthorized: (event) => {
        calls.push(event.status);
        return { authorization: "Bearer fresh-token-123456" };
      },
    });
    assert.deepEqual(calls, [401]);
    assert.equal(result.attempts, 2);
    assert.equal(result.documents.length, 2);
    const text = lines.join("\n");
    assert.ok(!text.includes("fresh-token-123456"), text);
    assert.ok(!text.includes("stale-token-123456"), text);
  });
  await t.step("a hook whose log-in is still refused", async () => {
    await assert.rejects(
      findDocuments({ patientId: PATIENT }, {
        url: registry.url,
        ...FAST,
        onUnauthorized: () => ({ authorization: "Bearer wrong" }),
      }),
      (e: unknown) => {
        assert.ok(e instanceof AuthenticationError, String(e));
        assert.equal(e.url, registry.url);
        assert.match(e.message, /still refused/);
        return true;
      },
    );
  });
});

/** A wsse:Security header holding a SAML 2.0 assertion with this ID. */
function samlHeader(id: string): string {
  return `<wsse:Security xmlns:wsse="${WSSE}"><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" IssueInstant="2024-01-01T00:00:00Z" Version="2.0"><saml2:Issuer>sts</saml2:Issuer></saml2:Assertion></wsse:Security>`;
}

Deno.test("findDocuments() sends the XUA assertion a registry requires", async (t) => {
  await using registry = await FakeXdsRegistry.start({
    documents: ENTRIES,
    requireAssertion: "_assertion-2",
  });
  await t.step("no header: a FailedAuthentication Fault", async () => {
    await assert.rejects(
      findDocuments({ patientId: PATIENT }, { url: registry.url, ...FAST }),
      (e: unknown) => {
        assert.ok(e instanceof SoapFaultError, String(e));
        assert.equal(e.subcode, "wsse:FailedAuthentication");
        assert.match(e.reason, /no wsse:Security header/);
        return true;
      },
    );
  });
  await t.step("an expired assertion is renewed through the hook", async () => {
    let current = "_assertion-1";
    let logins = 0;
    const result = await findDocuments({ patientId: PATIENT }, {
      url: registry.url,
      ...FAST,
      securityHeader: () => samlHeader(current),
      onUnauthorized: () => {
        logins++;
        current = "_assertion-2";
      },
    });
    assert.equal(logins, 1);
    assert.equal(result.attempts, 2);
    assert.equal(result.documents.length, 2);
    const last = registry.requests.at(-1)!;
    assert.ok(last.security && last.valid);
    assert.ok(last.soapXml.includes(samlHeader("_assertion-2")));
  });
});

Deno.test("findDocuments() queries a responding gateway with ITI-38", async (t) => {
  const HOME = "urn:oid:1.2.3.99";
  await using gateway = await FakeXdsRegistry.start({
    documents: ENTRIES,
    homeCommunityId: HOME,
  });
  assert.ok(gateway.url.endsWith("/xca/query"));
  await t.step("the right community", async () => {
    const result = await findDocuments({ patientId: PATIENT }, {
      url: gateway.url,
      crossGateway: true,
      homeCommunityId: HOME,
      ...FAST,
    });
    assert.deepEqual(
      result.documents.map((d) => [d.uniqueId, d.homeCommunityId]),
      [["1.2.3.4.100", HOME], ["1.2.3.4.101", "urn:oid:1.2.3.98"]],
    );
    const request = gateway.requests.at(-1)!;
    assert.equal(request.action, ITI38_ACTION);
    assert.equal(request.home, HOME);
  });
  await t.step("another community: XDSUnknownCommunity", async () => {
    await assert.rejects(
      findDocuments({ patientId: PATIENT }, {
        url: gateway.url,
        crossGateway: true,
        homeCommunityId: "urn:oid:1.2.3.1",
        ...FAST,
      }),
      (e: unknown) => {
        assert.ok(e instanceof RegistryQueryError, String(e));
        assert.equal(e.code, "XDSUnknownCommunity");
        assert.equal(e.location, "urn:oid:1.2.3.1");
        assert.match(e.message, /^The ITI-38 query to /);
        return true;
      },
    );
  });
  await t.step("an ITI-18 query: the action is not served", async () => {
    await assert.rejects(
      findDocuments({ patientId: PATIENT }, {
        url: gateway.url,
        homeCommunityId: HOME,
        ...FAST,
      }),
      (e: unknown) =>
        e instanceof SoapFaultError && e.subcode === "wsa:ActionNotSupported",
    );
  });
});

Deno.test("FakeXdsRegistry answers malformed queries as a registry does", async () => {
  await using registry = await FakeXdsRegistry.start({ documents: ENTRIES });
  const post = async (xml: string) => {
    const request = buildFindDocumentsRequest({ patientId: PATIENT }, {
      url: registry.url,
    });
    const body = request.xml.replace(
      /<rim:AdhocQuery [\s\S]*<\/rim:AdhocQuery>/,
      xml,
    );
    const response = await fetch(registry.url, {
      method: "POST",
      headers: { "content-type": request.contentType },
      body,
    });
    return { status: response.status, text: await response.text() };
  };
  const slot = (name: string, value: string) =>
    `<rim:Slot name="${name}"><rim:ValueList><rim:Value>${value}</rim:Value></rim:ValueList></rim:Slot>`;
  const status = slot("$XDSDocumentEntryStatus", `('${APPROVED}')`);
  const cases: [string, string][] = [
    [
      `<rim:AdhocQuery id="urn:uuid:nope">${status}</rim:AdhocQuery>`,
      "XDSUnknownStoredQuery",
    ],
    [
      `<rim:AdhocQuery id="${FIND_DOCUMENTS_QUERY_ID}">${status}</rim:AdhocQuery>`,
      "XDSStoredQueryParamNumber",
    ],
    [
      `<rim:AdhocQuery id="${FIND_DOCUMENTS_QUERY_ID}">${
        slot("$XDSDocumentEntryPatientId", `'P1^^^&amp;1.2.3&amp;ISO`)
      }${status}</rim:AdhocQuery>`,
      "XDSRegistryError",
    ],
    [
      `<rim:AdhocQuery id="${FIND_DOCUMENTS_QUERY_ID}">${
        slot("$XDSDocumentEntryPatientId", `'P1'`)
      }${status}</rim:AdhocQuery>`,
      "XDSRegistryError",
    ],
  ];
  for (const [xml, code] of cases) {
    const { status, text } = await post(xml);
    assert.equal(status, 200);
    assert.ok(text.includes(`status="${FAILURE}"`), text);
    assert.ok(text.includes(`errorCode="${code}"`), text);
    assert.equal(registry.requests.at(-1)!.valid, false);
  }
  const { status: faultStatus, text } = await post(
    `<rim:Other xmlns:rim="${RIM}"/>`,
  );
  assert.equal(faultStatus, 400);
  assert.match(text, /Unexpected .*Other in AdhocQueryRequest/);
  assert.equal(registry.requests.at(-1)!.answer, "Fault");
});
