import assert from "node:assert/strict";
import { findSoapFault, parseRetrieveResponse } from "../src/soap/response.ts";
import { Rad69ProtocolError, SoapFaultError } from "../src/errors.ts";

const SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
const PARTIAL_IHE = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";
const PARTIAL_OASIS =
  "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess";
const FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
const ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";
const WARNING = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning";

/** Wraps a RetrieveDocumentSetResponse body in a SOAP 1.2 envelope. */
function envelope(inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
  <env:Body>${inner}</env:Body>
</env:Envelope>`;
}

/** A RetrieveDocumentSetResponse with the given status, errors and documents. */
function rdsr(status: string, errors = "", documents = ""): string {
  return envelope(`
    <xdsb:RetrieveDocumentSetResponse xmlns:xdsb="urn:ihe:iti:xds-b:2007"
        xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0">
      <rs:RegistryResponse status="${status}">${
    errors ? `<rs:RegistryErrorList>${errors}</rs:RegistryErrorList>` : ""
  }</rs:RegistryResponse>${documents}
    </xdsb:RetrieveDocumentSetResponse>`);
}

/** One xdsb:DocumentResponse with an xop:Include. */
function xopDoc(uid: string, href: string): string {
  return `
      <xdsb:DocumentResponse>
        <xdsb:RepositoryUniqueId>1.2.3.99</xdsb:RepositoryUniqueId>
        <xdsb:DocumentUniqueId>${uid}</xdsb:DocumentUniqueId>
        <xdsb:mimeType>application/dicom</xdsb:mimeType>
        <xdsb:Document><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="${href}"/></xdsb:Document>
      </xdsb:DocumentResponse>`;
}

/** Asserts a Rad69ProtocolError whose message matches and has an excerpt. */
function assertProtocolError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Rad69ProtocolError, String(e));
    assert.match(e.message, message);
    assert.ok(e.excerpt.length > 0 && e.excerpt.length <= 300);
    return true;
  });
}

Deno.test("parseRetrieveResponse() reads a dcm4chee-arc (CXF) Success", () => {
  const xml =
    `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><Action xmlns="http://www.w3.org/2005/08/addressing">urn:ihe:iti:2007:RetrieveDocumentSetResponse</Action><MessageID xmlns="http://www.w3.org/2005/08/addressing">urn:uuid:4c1f</MessageID><RelatesTo xmlns="http://www.w3.org/2005/08/addressing">urn:uuid:9a1b</RelatesTo></soap:Header><soap:Body><ns2:RetrieveDocumentSetResponse xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" xmlns:ns2="urn:ihe:iti:xds-b:2007" xmlns:ns3="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" xmlns:ns4="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"><ns3:RegistryResponse status="${SUCCESS}"/><ns2:DocumentResponse><ns2:RepositoryUniqueId>1.3.6.1.4.1000</ns2:RepositoryUniqueId><ns2:DocumentUniqueId>1.2.3.4.5</ns2:DocumentUniqueId><ns2:mimeType>application/dicom</ns2:mimeType><ns2:Document><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:0d45c3b2-4@urn%3Aihe%3Aiti%3Axds-b%3A2007"/></ns2:Document></ns2:DocumentResponse><ns2:DocumentResponse><ns2:RepositoryUniqueId>1.3.6.1.4.1000</ns2:RepositoryUniqueId><ns2:DocumentUniqueId>1.2.3.4.6</ns2:DocumentUniqueId><ns2:mimeType>application/dicom</ns2:mimeType><ns2:Document><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:0d45c3b2-5@urn%3Aihe%3Aiti%3Axds-b%3A2007"/></ns2:Document></ns2:DocumentResponse></ns2:RetrieveDocumentSetResponse></soap:Body></soap:Envelope>`;
  const response = parseRetrieveResponse(xml);
  assert.equal(response.status, "Success");
  assert.equal(response.statusUrn, SUCCESS);
  assert.deepEqual(response.errors, []);
  assert.deepEqual(response.documents, [
    {
      documentUniqueId: "1.2.3.4.5",
      repositoryUniqueId: "1.3.6.1.4.1000",
      mimeType: "application/dicom",
      contentId: "0d45c3b2-4@urn:ihe:iti:xds-b:2007",
    },
    {
      documentUniqueId: "1.2.3.4.6",
      repositoryUniqueId: "1.3.6.1.4.1000",
      mimeType: "application/dicom",
      contentId: "0d45c3b2-5@urn:ihe:iti:xds-b:2007",
    },
  ]);
});

Deno.test("parseRetrieveResponse() accepts UTF-8 bytes with a BOM", () => {
  const xml = rdsr(SUCCESS, "", xopDoc("1.2.3", "cid:a%40b"));
  const bytes = new TextEncoder().encode("\uFEFF" + xml);
  const response = parseRetrieveResponse(bytes);
  assert.equal(response.documents[0]!.contentId, "a@b");
});

Deno.test("parseRetrieveResponse() reads PartialSuccess in both namespaces", () => {
  for (const urn of [PARTIAL_IHE, PARTIAL_OASIS]) {
    const response = parseRetrieveResponse(rdsr(
      urn,
      `<rs:RegistryError errorCode="XDSMissingDocument" codeContext="DICOM Object not found" location="1.2.3.4.7" severity="${ERROR}"/>`,
      xopDoc("1.2.3.4.5", "cid:1@x"),
    ));
    assert.equal(response.status, "PartialSuccess");
    assert.equal(response.statusUrn, urn);
    assert.equal(response.documents.length, 1);
    assert.deepEqual(response.errors, [{
      code: "XDSMissingDocument",
      context: "DICOM Object not found",
      location: "1.2.3.4.7",
      severity: ERROR,
      isWarning: false,
    }]);
  }
});

Deno.test("parseRetrieveResponse() accepts the bare status words", () => {
  for (const word of ["Success", "PartialSuccess", "Failure"] as const) {
    assert.equal(parseRetrieveResponse(rdsr(word)).status, word);
  }
});

Deno.test("parseRetrieveResponse() reads a Failure with every error attribute", () => {
  const response = parseRetrieveResponse(rdsr(
    FAILURE,
    `<rs:RegistryError errorCode="urn:dicom:wado:0007" codeContext="cannot provide in TS &quot;1.2.840.10008.1.2.4.50&quot;" location="1.2.3.4.5" severity="${ERROR}">ignored body</rs:RegistryError>
     <rs:RegistryError errorCode="XDSRepositoryError" codeContext="no severity given"/>
     <rs:RegistryError errorCode="SomethingNew"/>`,
  ));
  assert.equal(response.status, "Failure");
  assert.deepEqual(response.documents, []);
  assert.deepEqual(response.errors, [
    {
      code: "urn:dicom:wado:0007",
      context: 'cannot provide in TS "1.2.840.10008.1.2.4.50"',
      location: "1.2.3.4.5",
      severity: ERROR,
      isWarning: false,
    },
    {
      code: "XDSRepositoryError",
      context: "no severity given",
      location: "",
      severity: ERROR,
      isWarning: false,
    },
    {
      code: "SomethingNew",
      context: "",
      location: "",
      severity: ERROR,
      isWarning: false,
    },
  ]);
});

Deno.test("parseRetrieveResponse() reports warnings next to returned documents", () => {
  const response = parseRetrieveResponse(rdsr(
    SUCCESS,
    `<rs:RegistryError errorCode="XDSRepositoryError" codeContext="coerced attributes" location="1.2.3.4.5" severity="${WARNING}"/>
     <rs:RegistryError errorCode="X" codeContext="" severity="Warning"/>`,
    xopDoc("1.2.3.4.5", "cid:1@x"),
  ));
  assert.equal(response.status, "Success");
  assert.deepEqual(response.errors.map((e) => [e.severity, e.isWarning]), [
    [WARNING, true],
    ["Warning", true],
  ]);
  assert.equal(response.documents.length, 1);
});

Deno.test("parseRetrieveResponse() keeps NIST-style errors (UID in codeContext)", () => {
  const response = parseRetrieveResponse(rdsr(
    FAILURE,
    `<rs:RegistryError errorCode="XDSDocumentUniqueIdError" codeContext="No document matching composite UID [1.2:1.2.3:1.2.3.4]" location="" severity="${ERROR}"/>
     <rs:RegistryError errorCode="XDSUnknownRepositoryId" codeContext="Unknown Repository UID [1.3.6.1.4.1000]. Expected [1.1.4567]" location="IdsActorSimulator EL-2" severity="${ERROR}"/>`,
  ));
  assert.deepEqual(
    response.errors.map((e) => [e.code, e.location, e.context]),
    [
      [
        "XDSDocumentUniqueIdError",
        "",
        "No document matching composite UID [1.2:1.2.3:1.2.3.4]",
      ],
      [
        "XDSUnknownRepositoryId",
        "IdsActorSimulator EL-2",
        "Unknown Repository UID [1.3.6.1.4.1000]. Expected [1.1.4567]",
      ],
    ],
  );
});

Deno.test("parseRetrieveResponse() reads a Vitrea-style not-found (default namespaces)", () => {
  const xml = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
    xmlns:a="http://www.w3.org/2005/08/addressing">
  <s:Header>
    <a:Action s:mustUnderstand="1">urn:ihe:iti:2007:RetrieveDocumentSetResponse</a:Action>
  </s:Header>
  <s:Body>
    <RetrieveDocumentSetResponse xmlns="urn:ihe:iti:xds-b:2007"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <RegistryResponse xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="${FAILURE}">
        <RegistryErrorList highestSeverity="${ERROR}">
          <RegistryError codeContext="Unable to locate SOP from MINT." errorCode="XDSMissingDocument" location="1.2.3.4.5" severity="${ERROR}"/>
        </RegistryErrorList>
      </RegistryResponse>
    </RetrieveDocumentSetResponse>
  </s:Body>
</s:Envelope>`;
  const response = parseRetrieveResponse(xml);
  assert.equal(response.status, "Failure");
  assert.deepEqual(
    response.errors.map((e) => [e.code, e.location, e.context]),
    [
      ["XDSMissingDocument", "1.2.3.4.5", "Unable to locate SOP from MINT."],
    ],
  );
});

Deno.test("parseRetrieveResponse() matches namespaces, not prefixes", () => {
  // `x` is rebound to a foreign namespace for the decoy DocumentResponse;
  // the real one uses a prefix declared on the Envelope.
  const xml = `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"
      xmlns:x="urn:ihe:iti:xds-b:2007" xmlns:r="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0">
    <e:Body><x:RetrieveDocumentSetResponse>
      <r:RegistryResponse status="${SUCCESS}"/>
      <x:DocumentResponse xmlns:x="urn:other">
        <x:DocumentUniqueId>9.9</x:DocumentUniqueId><x:Document>AAAA</x:Document>
      </x:DocumentResponse>
      <DocumentResponse xmlns="urn:ihe:iti:xds-b:2007">
        <HomeCommunityId>urn:oid:1.2.3</HomeCommunityId>
        <RepositoryUniqueId>1.2</RepositoryUniqueId>
        <DocumentUniqueId>1.2.3</DocumentUniqueId>
        <mimeType>application/dicom</mimeType>
        <Document><i:Include xmlns:i="http://www.w3.org/2004/08/xop/include" href="cid:%3Cp1@h%3E"/></Document>
      </DocumentResponse>
    </x:RetrieveDocumentSetResponse></e:Body></e:Envelope>`;
  const response = parseRetrieveResponse(xml);
  assert.deepEqual(response.documents, [{
    documentUniqueId: "1.2.3",
    repositoryUniqueId: "1.2",
    homeCommunityId: "urn:oid:1.2.3",
    mimeType: "application/dicom",
    contentId: "p1@h",
  }]);
  // A RegistryResponse in a foreign namespace does not count.
  assertProtocolError(
    () =>
      parseRetrieveResponse(envelope(
        `<RetrieveDocumentSetResponse xmlns="urn:ihe:iti:xds-b:2007"><RegistryResponse status="${SUCCESS}"/></RetrieveDocumentSetResponse>`,
      )),
    /no rs:RegistryResponse/,
  );
});

Deno.test("parseRetrieveResponse() decodes inline base64 with whitespace", () => {
  const bytes = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);
  const b64 = btoa(String.fromCharCode(...bytes)).replace(/(.{76})/g, "$1\r\n");
  const response = parseRetrieveResponse(rdsr(
    SUCCESS,
    "",
    `<xdsb:DocumentResponse>
       <xdsb:RepositoryUniqueId>1.2</xdsb:RepositoryUniqueId>
       <xdsb:DocumentUniqueId>1.2.3</xdsb:DocumentUniqueId>
       <xdsb:mimeType>application/dicom</xdsb:mimeType>
       <xdsb:Document>
${b64}
       </xdsb:Document>
     </xdsb:DocumentResponse>`,
  ));
  const doc = response.documents[0]!;
  assert.equal(doc.contentId, undefined);
  assert.deepEqual(doc.inline, bytes);
});

Deno.test("parseRetrieveResponse() rejects invalid inline base64, naming the document", () => {
  for (const bad of ["AB$D", "ABCDE", "AB=CD==="]) {
    assertProtocolError(
      () =>
        parseRetrieveResponse(rdsr(
          SUCCESS,
          "",
          `<xdsb:DocumentResponse><xdsb:RepositoryUniqueId>1.2</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>1.2.3.9</xdsb:DocumentUniqueId><xdsb:mimeType>application/dicom</xdsb:mimeType><xdsb:Document>${bad}</xdsb:Document></xdsb:DocumentResponse>`,
        )),
      /"1\.2\.3\.9" is not valid base64/,
    );
  }
});

Deno.test("parseRetrieveResponse() rejects an incomplete DocumentResponse", () => {
  assertProtocolError(
    () =>
      parseRetrieveResponse(rdsr(
        SUCCESS,
        "",
        `<xdsb:DocumentResponse><xdsb:Document>AAAA</xdsb:Document></xdsb:DocumentResponse>`,
      )),
    /DocumentResponse 1 has no DocumentUniqueId/,
  );
  assertProtocolError(
    () =>
      parseRetrieveResponse(rdsr(
        SUCCESS,
        "",
        `<xdsb:DocumentResponse><xdsb:DocumentUniqueId>1.5</xdsb:DocumentUniqueId></xdsb:DocumentResponse>`,
      )),
    /"1\.5" has no Document element/,
  );
  assertProtocolError(
    () => parseRetrieveResponse(rdsr(SUCCESS, "", xopDoc("1.6", " "))),
    /xop:Include of document "1\.6" has no href/,
  );
});

Deno.test("parseRetrieveResponse() throws SoapFaultError for a SOAP 1.2 Fault with subcode", () => {
  const xml = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
      xmlns:wsa="http://www.w3.org/2005/08/addressing">
    <env:Header><wsa:Action>http://www.w3.org/2005/08/addressing/fault</wsa:Action></env:Header>
    <env:Body><env:Fault>
      <env:Code><env:Value>env:Receiver</env:Value>
        <env:Subcode><env:Value>wsa:ActionNotSupported</env:Value>
          <env:Subcode><env:Value>deeper</env:Value></env:Subcode>
        </env:Subcode>
      </env:Code>
      <env:Reason>
        <env:Text xml:lang="en">The [action] cannot be processed &amp; was dropped</env:Text>
        <env:Text xml:lang="de">Nicht unterstützt</env:Text>
      </env:Reason>
      <env:Detail><x xmlns="urn:d">detail</x></env:Detail>
    </env:Fault></env:Body></env:Envelope>`;
  assert.throws(() => parseRetrieveResponse(xml, { httpStatus: 500 }), (e) => {
    assert.ok(e instanceof SoapFaultError);
    assert.equal(e.code, "env:Receiver");
    assert.equal(e.subcode, "wsa:ActionNotSupported");
    assert.equal(e.reason, "The [action] cannot be processed & was dropped");
    assert.equal(e.context, e.reason);
    assert.equal(e.status, 500);
    assert.equal(
      e.message,
      "Server returned a SOAP Fault (HTTP 500): env:Receiver / wsa:ActionNotSupported: The [action] cannot be processed & was dropped",
    );
    return true;
  });
  const found = findSoapFault(new TextEncoder().encode(xml), 400);
  assert.ok(found instanceof SoapFaultError);
  assert.equal(found.status, 400);
  assert.equal(found.subcode, "wsa:ActionNotSupported");
});

Deno.test("parseRetrieveResponse() throws SoapFaultError for a SOAP 1.1 Fault at HTTP 200", () => {
  const xml =
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
    <soapenv:Body><soapenv:Fault>
      <faultcode>soapenv:Server</faultcode>
      <faultstring>Internal Error</faultstring>
    </soapenv:Fault></soapenv:Body></soapenv:Envelope>`;
  assert.throws(() => parseRetrieveResponse(xml), (e) => {
    assert.ok(e instanceof SoapFaultError);
    assert.equal(e.code, "soapenv:Server");
    assert.equal(e.subcode, "");
    assert.equal(e.reason, "Internal Error");
    assert.equal(e.status, 200);
    assert.equal(
      e.message,
      "Server returned a SOAP Fault (HTTP 200): soapenv:Server: Internal Error",
    );
    return true;
  });
});

Deno.test("findSoapFault() finds a Fault anywhere in the Body and nothing elsewhere", () => {
  const nested = envelope(
    `<w xmlns="urn:wrap"><f:Fault xmlns:f="http://www.w3.org/2003/05/soap-envelope"><f:Code><f:Value>f:Sender</f:Value></f:Code><f:Reason><f:Text>bad</f:Text></f:Reason></f:Fault></w>`,
  );
  assert.equal(findSoapFault(nested, 400)?.code, "f:Sender");
  assert.equal(findSoapFault(rdsr(SUCCESS), 200), undefined);
  assert.equal(
    findSoapFault("<html><body>Fault: login required</body></html>", 401),
    undefined,
  );
  assert.equal(findSoapFault("Fault <not xml", 500), undefined);
  assert.equal(
    findSoapFault(new Uint8Array([0xff, 0xfe, 0x00]), 500),
    undefined,
  );
  // A Fault element in another namespace is not a SOAP Fault.
  assert.equal(
    findSoapFault(envelope(`<Fault xmlns="urn:x"/>`), 500),
    undefined,
  );
});

Deno.test("parseRetrieveResponse() rejects malformed XML with an excerpt", () => {
  const cases: [string, RegExp][] = [
    ["", /no root element/],
    ["not xml at all", /text outside the root element/],
    [rdsr(SUCCESS).replace("</env:Body>", ""), /expected "<\/env:Body>"/],
    [
      rdsr(SUCCESS).replace("</env:Envelope>", ""),
      /unclosed element "<env:Envelope>"/,
    ],
    [envelope("<a b='1' b='2'/>"), /duplicate attribute "b"/],
    [envelope("<a b=1/>"), /malformed start tag/],
    [envelope("<p:a/>"), /undeclared namespace prefix "p"/],
    [envelope("<a>&</a>"), /stray "&"/],
    [envelope("<a>&#0;</a>"), /invalid character reference/],
    [envelope("<a/><!-- open"), /unterminated comment/],
    [rdsr(SUCCESS) + "<again/>", /more than one root element/],
    [envelope("<a>".repeat(600)), /nested deeper than 512/],
  ];
  for (const [xml, message] of cases) {
    assert.throws(() => parseRetrieveResponse(xml), (e: unknown) => {
      assert.ok(e instanceof Rad69ProtocolError, `${xml}: ${e}`);
      assert.match(e.message, message);
      assert.match(e.message, /^Cannot parse SOAP response: /);
      // Cut with a mark (for redaction), within 300 characters.
      assert.equal(
        e.excerpt,
        xml.length > 300 ? `${xml.slice(0, 299)}\u2026` : xml,
      );
      return true;
    });
  }
  assertProtocolError(
    () => parseRetrieveResponse(new Uint8Array([0x3c, 0xff, 0x3e])),
    /not valid UTF-8/,
  );
});

Deno.test("parseRetrieveResponse() rejects a missing Envelope, Body or response", () => {
  assertProtocolError(
    () => parseRetrieveResponse("<Envelope><Body/></Envelope>"),
    /root element is "Envelope" in namespace ""/,
  );
  assertProtocolError(
    () =>
      parseRetrieveResponse(
        `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>`,
      ),
    /no Body/,
  );
  assertProtocolError(
    () => parseRetrieveResponse(envelope(`<other xmlns="urn:x"/>`)),
    /no xdsb:RetrieveDocumentSetResponse \(found "other" in namespace "urn:x"\)/,
  );
  assertProtocolError(
    () => parseRetrieveResponse(envelope("")),
    /no xdsb:RetrieveDocumentSetResponse$/,
  );
});

Deno.test("parseRetrieveResponse() rejects an unknown or missing status, naming it", () => {
  assertProtocolError(
    () => parseRetrieveResponse(rdsr("urn:x:ResponseStatusType:Maybe")),
    /unknown RegistryResponse status "urn:x:ResponseStatusType:Maybe"/,
  );
  assertProtocolError(
    () =>
      parseRetrieveResponse(envelope(
        `<RetrieveDocumentSetResponse xmlns="urn:ihe:iti:xds-b:2007"><RegistryResponse xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"/></RetrieveDocumentSetResponse>`,
      )),
    /has no status/,
  );
});

Deno.test("parseRetrieveResponse() never expands entities (billion laughs)", () => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE env:Envelope [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
${rdsr(SUCCESS, `<rs:RegistryError errorCode="&lol3;" codeContext="&xxe;"/>`)}`;
  assertProtocolError(
    () => parseRetrieveResponse(laughs),
    /DOCTYPE is not allowed/,
  );
  assert.equal(findSoapFault(laughs, 500), undefined);
  // Without a DOCTYPE, a non-predefined entity is an error, never expanded.
  assertProtocolError(
    () =>
      parseRetrieveResponse(
        rdsr(SUCCESS, `<rs:RegistryError errorCode="&lol3;"/>`),
      ),
    /undefined entity "&lol3;"/,
  );
});

Deno.test("parseRetrieveResponse() decodes predefined entities, references and CDATA", () => {
  const response = parseRetrieveResponse(rdsr(
    SUCCESS,
    `<rs:RegistryError errorCode="A&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;" codeContext='tab&#9;and literal\ttab'/>`,
    `<xdsb:DocumentResponse><!-- note --><xdsb:DocumentUniqueId><![CDATA[1.2]]>.3</xdsb:DocumentUniqueId><xdsb:Document><![CDATA[AAEC]]></xdsb:Document></xdsb:DocumentResponse>`,
  ));
  assert.equal(response.errors[0]!.code, `A<>&'"AB\u{1F600}`);
  assert.equal(response.errors[0]!.context, "tab\tand literal tab");
  assert.equal(response.documents[0]!.documentUniqueId, "1.2.3");
  assert.deepEqual(response.documents[0]!.inline, new Uint8Array([0, 1, 2]));
});

Deno.test("parseRetrieveResponse() parses a root part with 7,000 DocumentResponses", () => {
  const docs: string[] = [];
  for (let i = 0; i < 7000; i++) {
    docs.push(
      xopDoc(
        `1.2.840.113619.2.55.3.604688119.868.1234567890.${i + 1}`,
        `cid:${i}-uuid@urn%3Aihe%3Aiti%3Axds-b%3A2007`,
      ),
    );
  }
  const xml = rdsr(
    PARTIAL_IHE,
    `<rs:RegistryError errorCode="XDSMissingDocument" codeContext="DICOM Object not found" location="1.2.3" severity="${ERROR}"/>`,
    docs.join(""),
  );
  assert.ok(xml.length > 2_000_000);
  const response = parseRetrieveResponse(new TextEncoder().encode(xml));
  assert.equal(response.documents.length, 7000);
  assert.equal(response.errors.length, 1);
  assert.equal(
    response.documents[6999]!.documentUniqueId,
    "1.2.840.113619.2.55.3.604688119.868.1234567890.7000",
  );
  assert.equal(
    response.documents[6999]!.contentId,
    "6999-uuid@urn:ihe:iti:xds-b:2007",
  );
});

/** The SOAP 1.2 Fault JAX-WS RI 2.3.0 (Metro, Debian libjaxws-java) answers
 * when it does not process WS-Addressing, byte for byte as seen in
 * tests/interop_jaxws_test.ts (HTTP 500). */
const METRO_MUST_UNDERSTAND_FAULT =
  `<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Header><NotUnderstood xmlns:abc="http://www.w3.org/2005/08/addressing" xmlns="http://www.w3.org/2003/05/soap-envelope" qname="abc:Action"/><NotUnderstood xmlns:abc="http://www.w3.org/2005/08/addressing" xmlns="http://www.w3.org/2003/05/soap-envelope" qname="abc:To"/></S:Header><S:Body><S:Fault xmlns:ns4="http://schemas.xmlsoap.org/soap/envelope/"><S:Code><S:Value>S:MustUnderstand</S:Value></S:Code><S:Reason><S:Text xml:lang="en">One or more mandatory SOAP header blocks not understood</S:Text></S:Reason></S:Fault></S:Body></S:Envelope>`;

Deno.test("findSoapFault() names addressingMustUnderstand for a MustUnderstand Fault on WS-Addressing headers", async (t) => {
  const hint = /addressingMustUnderstand: false \(CLI: --no-must-understand\)/;
  await t.step("JAX-WS RI (Metro), NotUnderstood wsa:Action and wsa:To", () => {
    const fault = findSoapFault(METRO_MUST_UNDERSTAND_FAULT, 500);
    assert.ok(fault instanceof SoapFaultError);
    assert.equal(fault.code, "S:MustUnderstand");
    assert.equal(fault.status, 500);
    assert.equal(
      fault.reason,
      "One or more mandatory SOAP header blocks not understood",
    );
    assert.match(fault.message, hint);
    assert.match(fault.message, /does not process WS-Addressing/);
    // parseRetrieveResponse gives the same error.
    assert.throws(
      () => parseRetrieveResponse(METRO_MUST_UNDERSTAND_FAULT),
      (e) => e instanceof SoapFaultError && hint.test(e.message),
    );
  });
  await t.step("SOAP 1.2, no NotUnderstood blocks, another prefix", () => {
    const xml = `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">
      <e:Body><e:Fault><e:Code><e:Value>e:MustUnderstand</e:Value></e:Code>
      <e:Reason><e:Text xml:lang="en">Header not understood</e:Text></e:Reason>
      </e:Fault></e:Body></e:Envelope>`;
    assert.match(findSoapFault(xml, 500)!.message, hint);
  });
  await t.step("SOAP 1.1 faultcode, with and without a dotted suffix", () => {
    for (const code of ["soap:MustUnderstand", "MustUnderstand.Action"]) {
      const xml =
        `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
        <soap:Body><soap:Fault><faultcode>${code}</faultcode>
        <faultstring>Did not understand "MustUnderstand" header(s)</faultstring>
        </soap:Fault></soap:Body></soap:Envelope>`;
      assert.match(findSoapFault(xml, 500)!.message, hint, code);
    }
  });
  await t.step("no hint for other headers or other codes", () => {
    const security = METRO_MUST_UNDERSTAND_FAULT
      .replaceAll(
        "http://www.w3.org/2005/08/addressing",
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
      )
      .replace('qname="abc:Action"', 'qname="abc:Security"')
      .replace(/<NotUnderstood[^>]*qname="abc:To"\/>/, "");
    const other = findSoapFault(security, 500)!;
    assert.equal(other.code, "S:MustUnderstand");
    assert.doesNotMatch(other.message, /addressingMustUnderstand/);
    const sender = findSoapFault(
      METRO_MUST_UNDERSTAND_FAULT.replace("S:MustUnderstand", "S:Sender"),
      400,
    )!;
    assert.doesNotMatch(sender.message, /addressingMustUnderstand/);
    const lookalike = findSoapFault(
      METRO_MUST_UNDERSTAND_FAULT.replace(
        "S:MustUnderstand",
        "S:NotMustUnderstanding",
      ),
      500,
    )!;
    assert.doesNotMatch(lookalike.message, /addressingMustUnderstand/);
  });
});
