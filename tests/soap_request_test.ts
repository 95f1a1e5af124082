import assert from "node:assert/strict";
import {
  buildRetrieveRequest,
  DEFAULT_REPOSITORY_UNIQUE_ID,
  DEFAULT_TRANSFER_SYNTAXES,
  RAD69_ACTION,
} from "../src/soap/request.ts";
import { InvalidUidError } from "../src/errors.ts";
import type { InstanceReference } from "../src/references.ts";

const SOAP = "http://www.w3.org/2003/05/soap-envelope";
const WSA = "http://www.w3.org/2005/08/addressing";
const IHERAD = "urn:ihe:rad:xdsi-b:2009";
const XDSB = "urn:ihe:iti:xds-b:2007";
const URL_ = "http://pacs.example:8080/dcm4chee-arc/xdsi/ImagingDocumentSource";

/** A namespace-resolved element, parsed independently of src/. */
interface El {
  ns: string;
  local: string;
  attrs: Map<string, string>;
  children: El[];
  text: string;
}

/** Decodes the five predefined entities and character references. */
function decode(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, r) => {
    if (r[0] === "#") {
      return String.fromCodePoint(
        r[1] === "x" ? parseInt(r.slice(2), 16) : parseInt(r.slice(1), 10),
      );
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[
      r as "amp"
    ];
  });
}

/** A minimal namespace-aware XML reader for checking the built request. */
function parse(xml: string): El {
  const token =
    /<\?[^?]*\?>|<(\/?)([\w.-]+(?::[\w.-]+)?)((?:\s+[\w.:-]+="[^"]*")*)\s*(\/?)>|([^<]+)/y;
  const stack: { el: El; scope: Map<string, string> }[] = [];
  let root: El | undefined;
  let m: RegExpExecArray | null;
  while (token.lastIndex < xml.length && (m = token.exec(xml))) {
    const [, close, name, rawAttrs, selfClose, text] = m;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      assert.ok(top, "text outside the root");
      top.el.text += decode(text);
      continue;
    }
    if (name === undefined) continue; // XML declaration
    const [prefix, local] = name.includes(":")
      ? name.split(":") as [string, string]
      : ["", name];
    if (close) {
      assert.ok(top, `end tag ${name} without start`);
      assert.equal(top.el.local, local);
      stack.pop();
      continue;
    }
    const scope = new Map(top?.scope ?? []);
    const attrs = new Map<string, string>();
    for (const a of rawAttrs!.matchAll(/([\w.:-]+)="([^"]*)"/g)) {
      const [an, av] = [a[1]!, decode(a[2]!)];
      if (an === "xmlns") scope.set("", av);
      else if (an.startsWith("xmlns:")) scope.set(an.slice(6), av);
      else if (an.includes(":")) {
        const [ap, al] = an.split(":") as [string, string];
        assert.ok(scope.has(ap), `undeclared prefix ${ap}`);
        attrs.set(`{${scope.get(ap)}}${al}`, av);
      } else attrs.set(an, av);
    }
    const ns = scope.get(prefix);
    assert.ok(ns !== undefined, `undeclared prefix "${prefix}"`);
    const el: El = { ns, local, attrs, children: [], text: "" };
    if (top) top.el.children.push(el);
    else {
      assert.equal(root, undefined, "two roots");
      root = el;
    }
    if (!selfClose) stack.push({ el, scope });
  }
  assert.equal(token.lastIndex, xml.length, "unparsed XML left");
  assert.equal(stack.length, 0, "unclosed elements");
  assert.ok(root);
  return root;
}

/** Asserts the children's qualified names, in order, and returns them. */
function kids(el: El, expected: [string, string][]): El[] {
  assert.deepEqual(
    el.children.map((c) => [c.ns, c.local]),
    expected,
  );
  return el.children;
}

function ref(
  study: string,
  series: string,
  instance: string,
  extra: Partial<InstanceReference> = {},
): InstanceReference {
  return {
    studyUid: study,
    seriesUid: series,
    instanceUid: instance,
    ...extra,
  };
}

/** Parses a request and returns its header and request element. */
function parts(xml: string): { header: El; request: El } {
  const envelope = parse(xml);
  assert.equal(envelope.ns, SOAP);
  assert.equal(envelope.local, "Envelope");
  const [header, body] = kids(envelope, [[SOAP, "Header"], [SOAP, "Body"]]);
  const [request] = kids(body!, [[
    IHERAD,
    "RetrieveImagingDocumentSetRequest",
  ]]);
  assert.equal(body!.text, "", "no text in the Body");
  return { header: header!, request: request! };
}

Deno.test("buildRetrieveRequest() builds a plain SOAP 1.2 request", () => {
  const request = buildRetrieveRequest([ref("1.2.3", "1.2.3.4", "1.2.3.4.5")], {
    url: URL_,
    messageId: "urn:uuid:fixed",
  });
  assert.equal(
    request.contentType,
    'application/soap+xml; charset=UTF-8; action="urn:ihe:rad:2009:RetrieveImagingDocumentSet"',
  );
  assert.equal(request.messageId, "urn:uuid:fixed");
  assert.equal(new TextDecoder().decode(request.body), request.xml);
  assert.ok(request.xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>'));

  const { header, request: req } = parts(request.xml);
  const [action, messageId, replyTo, to] = kids(header, [
    [WSA, "Action"],
    [WSA, "MessageID"],
    [WSA, "ReplyTo"],
    [WSA, "To"],
  ]);
  assert.equal(action!.text, RAD69_ACTION);
  assert.equal(action!.text, "urn:ihe:rad:2009:RetrieveImagingDocumentSet");
  assert.equal(action!.attrs.get(`{${SOAP}}mustUnderstand`), "1");
  assert.equal(messageId!.text, "urn:uuid:fixed");
  const [address] = kids(replyTo!, [[WSA, "Address"]]);
  assert.equal(address!.text, "http://www.w3.org/2005/08/addressing/anonymous");
  assert.equal(to!.text, URL_);
  assert.equal(to!.attrs.get(`{${SOAP}}mustUnderstand`), "1");

  const [study, tsList] = kids(req, [
    [IHERAD, "StudyRequest"],
    [IHERAD, "TransferSyntaxUIDList"],
  ]);
  assert.equal(study!.attrs.get("studyInstanceUID"), "1.2.3");
  const [series] = kids(study!, [[IHERAD, "SeriesRequest"]]);
  assert.equal(series!.attrs.get("seriesInstanceUID"), "1.2.3.4");
  const [doc] = kids(series!, [[XDSB, "DocumentRequest"]]);
  const [repo, uid] = kids(doc!, [
    [XDSB, "RepositoryUniqueId"],
    [XDSB, "DocumentUniqueId"],
  ]);
  assert.equal(repo!.text, DEFAULT_REPOSITORY_UNIQUE_ID);
  assert.equal(uid!.text, "1.2.3.4.5");
  const syntaxes = kids(
    tsList!,
    DEFAULT_TRANSFER_SYNTAXES.map(() => [IHERAD, "TransferSyntaxUID"]),
  );
  assert.deepEqual(syntaxes.map((s) => s.text), [
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
  ]);
});

Deno.test("buildRetrieveRequest() groups studies and series in first-seen order", () => {
  const refs = [
    ref("1.1", "1.1.1", "1.1.1.1"),
    ref("2.2", "2.2.1", "2.2.1.1"),
    ref("1.1", "1.1.2", "1.1.2.1"),
    ref("1.1", "1.1.1", "1.1.1.2"),
    ref("2.2", "2.2.1", "2.2.1.2"),
  ];
  const { request } = parts(buildRetrieveRequest(refs, { url: URL_ }).xml);
  const studies = request.children.filter((c) => c.local === "StudyRequest");
  assert.equal(request.children.length, 3);
  assert.equal(request.children[2]!.local, "TransferSyntaxUIDList");
  const shape = studies.map((s) => ({
    study: s.attrs.get("studyInstanceUID"),
    series: s.children.map((se) => ({
      uid: se.attrs.get("seriesInstanceUID"),
      docs: se.children.map((d) =>
        d.children.find((c) => c.local === "DocumentUniqueId")!.text
      ),
    })),
  }));
  assert.deepEqual(shape, [
    {
      study: "1.1",
      series: [
        { uid: "1.1.1", docs: ["1.1.1.1", "1.1.1.2"] },
        { uid: "1.1.2", docs: ["1.1.2.1"] },
      ],
    },
    { study: "2.2", series: [{ uid: "2.2.1", docs: ["2.2.1.1", "2.2.1.2"] }] },
  ]);
  // Exactly one request element in the Body, however many studies.
  assert.equal(
    [
      ...buildRetrieveRequest(refs, { url: URL_ }).xml.matchAll(
        /RetrieveImagingDocumentSetRequest /g,
      ),
    ].length,
    1,
  );
});

Deno.test("buildRetrieveRequest() escapes the url and the community id", () => {
  const url = `http://h.example/x?a=1&b=<2>&c="3"&d='4'`;
  const request = buildRetrieveRequest(
    [ref("1.2", "1.2.3", "1.2.3.4")],
    { url, homeCommunityId: `urn:oid:1.2&<">` },
  );
  assert.ok(request.xml.includes(
    "http://h.example/x?a=1&amp;b=&lt;2&gt;&amp;c=&quot;3&quot;&amp;d=&apos;4&apos;",
  ));
  const { header, request: req } = parts(request.xml);
  assert.equal(header.children[3]!.text, url);
  const doc = req.children[0]!.children[0]!.children[0]!;
  assert.equal(doc.children[0]!.text, `urn:oid:1.2&<">`);
});

Deno.test("buildRetrieveRequest() lets each instance override the repository", () => {
  const request = buildRetrieveRequest([
    ref("1.2", "1.2.3", "1.2.3.4"),
    ref("1.2", "1.2.3", "1.2.3.5", { repositoryUniqueId: "1.3.6.1.4.1.9" }),
  ], { url: URL_, repositoryUniqueId: "1.2.840.1" });
  const { request: req } = parts(request.xml);
  const docs = req.children[0]!.children[0]!.children;
  assert.deepEqual(
    docs.map((d) => [d.children[0]!.local, d.children[0]!.text]),
    [["RepositoryUniqueId", "1.2.840.1"], [
      "RepositoryUniqueId",
      "1.3.6.1.4.1.9",
    ]],
  );
});

Deno.test("buildRetrieveRequest() puts HomeCommunityId first in every DocumentRequest", () => {
  const request = buildRetrieveRequest([
    ref("1.2", "1.2.3", "1.2.3.4"),
    ref("1.2", "1.2.3", "1.2.3.5", { homeCommunityId: "urn:oid:9.9" }),
  ], { url: URL_, homeCommunityId: "urn:oid:1.1" });
  const { request: req } = parts(request.xml);
  const docs = req.children[0]!.children[0]!.children;
  const texts = docs.map((d) => {
    kids(d, [
      [XDSB, "HomeCommunityId"],
      [XDSB, "RepositoryUniqueId"],
      [XDSB, "DocumentUniqueId"],
    ]);
    return d.children[0]!.text;
  });
  assert.deepEqual(texts, ["urn:oid:1.1", "urn:oid:9.9"]);
});

Deno.test("buildRetrieveRequest() rejects a HomeCommunityId on only some instances", () => {
  assert.throws(
    () =>
      buildRetrieveRequest([
        ref("1.2", "1.2.3", "1.2.3.4", { homeCommunityId: "urn:oid:9.9" }),
        ref("1.2", "1.2.3", "1.2.3.5"),
      ], { url: URL_ }),
    (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /refs\[1\] \(instance "1\.2\.3\.5"\)/);
      assert.match(e.message, /homeCommunityId/);
      return true;
    },
  );
});

Deno.test("buildRetrieveRequest() names the invalid UID's field", () => {
  const cases: [InstanceReference[], Record<string, unknown>, string][] = [
    [
      [ref("1.2", "1.2.3", "1.2.3.4"), ref("1.2", "1.02", "1.2.3.5")],
      {},
      "refs[1].seriesUid",
    ],
    [[ref("x", "1.2.3", "1.2.3.4")], {}, "refs[0].studyUid"],
    [[ref("1.2", "1.2.3", "1.2.3.")], {}, "refs[0].instanceUid"],
    [
      [ref("1.2", "1.2.3", "1.2.3.4", { repositoryUniqueId: "r" })],
      {},
      "refs[0].repositoryUniqueId",
    ],
    [
      [ref("1.2", "1.2.3", "1.2.3.4")],
      { repositoryUniqueId: "1..2" },
      "options.repositoryUniqueId",
    ],
    [[ref("1.2", "1.2.3", "1.2.3.4")], {
      transferSyntaxes: ["1.2.840.10008.1.2", "1.2.840.10008.1.2 "],
    }, "options.transferSyntaxes[1]"],
    [
      [ref("1.2", "1.2.3", "1.2.3.4", { homeCommunityId: " " })],
      {},
      "refs[0].homeCommunityId",
    ],
  ];
  for (const [refs, options, where] of cases) {
    assert.throws(
      () => buildRetrieveRequest(refs, { url: URL_, ...options }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidUidError, String(e));
        assert.equal(e.where, where);
        assert.ok(e.message.includes(where));
        return true;
      },
    );
  }
});

Deno.test("buildRetrieveRequest() rejects empty refs, empty syntaxes and a bad url", () => {
  assert.throws(() => buildRetrieveRequest([], { url: URL_ }), TypeError);
  assert.throws(
    () =>
      buildRetrieveRequest([ref("1.2", "1.2.3", "1.2.3.4")], {
        url: URL_,
        transferSyntaxes: [],
      }),
    TypeError,
  );
  assert.throws(
    () =>
      buildRetrieveRequest([ref("1.2", "1.2.3", "1.2.3.4")], { url: "no url" }),
    TypeError,
  );
  assert.throws(
    () =>
      buildRetrieveRequest([ref("1.2", "1.2.3", "1.2.3.4")], {
        url: "http://h/\u0001",
      }),
    TypeError,
  );
});

Deno.test("buildRetrieveRequest() sends the given transfer syntaxes in order", () => {
  const request = buildRetrieveRequest([ref("1.2", "1.2.3", "1.2.3.4")], {
    url: URL_,
    transferSyntaxes: ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90"],
  });
  const { request: req } = parts(request.xml);
  assert.deepEqual(req.children[1]!.children.map((c) => c.text), [
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.4.90",
  ]);
});

Deno.test("buildRetrieveRequest() generates a fresh urn:uuid MessageID", () => {
  const refs = [ref("1.2", "1.2.3", "1.2.3.4")];
  const a = buildRetrieveRequest(refs, { url: URL_ });
  const b = buildRetrieveRequest(refs, { url: URL_ });
  assert.match(a.messageId, /^urn:uuid:[0-9a-f-]{36}$/);
  assert.notEqual(a.messageId, b.messageId);
  assert.equal(parts(a.xml).header.children[1]!.text, a.messageId);
});

Deno.test("buildRetrieveRequest() frames an MTOM request as multipart/related", () => {
  const request = buildRetrieveRequest([ref("1.2", "1.2.3", "1.2.3.4")], {
    url: URL_,
    mtom: true,
  });
  const ct = request.contentType;
  const m = ct.match(
    /^multipart\/related; type="application\/xop\+xml"; boundary="([^"]+)"; start="<([^">]+)>"; start-info="application\/soap\+xml"; action="urn:ihe:rad:2009:RetrieveImagingDocumentSet"$/,
  );
  assert.ok(m, ct);
  const [, boundary, start] = m;
  assert.ok(boundary!.length <= 70);
  const body = new TextDecoder().decode(request.body);
  const expected = `--${boundary}\r\n` +
    `Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n` +
    `Content-Transfer-Encoding: binary\r\n` +
    `Content-ID: <${start}>\r\n` +
    `\r\n` +
    request.xml +
    `\r\n--${boundary}--\r\n`;
  assert.equal(body, expected);
  assert.ok(start!.startsWith("root"));
  assert.equal(body.split(`--${boundary}`).length, 3);
  // The root part is the same envelope as the plain request.
  parts(request.xml);
  // A fresh boundary each time.
  const again = buildRetrieveRequest([ref("1.2", "1.2.3", "1.2.3.4")], {
    url: URL_,
    mtom: true,
  });
  assert.notEqual(again.contentType, ct);
});

Deno.test("buildRetrieveRequest() drops mustUnderstand only when addressingMustUnderstand is false", () => {
  const refs = [{
    studyUid: "1.2",
    seriesUid: "1.2.3",
    instanceUid: "1.2.3.4",
  }];
  const url = "http://127.0.0.1:8080/rad69";
  const muAttr = /soap:mustUnderstand="1"/g;
  for (const mtom of [false, true]) {
    const strict = buildRetrieveRequest(refs, { url, mtom });
    assert.equal(strict.xml.match(muAttr)?.length, 2, `mtom=${mtom}`);
    assert.ok(
      strict.xml.includes(
        `<wsa:Action soap:mustUnderstand="1">${RAD69_ACTION}</wsa:Action>`,
      ),
    );
    const explicit = buildRetrieveRequest(refs, {
      url,
      mtom,
      addressingMustUnderstand: true,
    });
    assert.equal(explicit.xml.match(muAttr)?.length, 2);
    const lenient = buildRetrieveRequest(refs, {
      url,
      mtom,
      addressingMustUnderstand: false,
    });
    assert.ok(!lenient.xml.includes("mustUnderstand"), `mtom=${mtom}`);
    // Same headers otherwise: Action, To, MessageID, ReplyTo, and the action
    // parameter a non-WS-Addressing server routes on.
    assert.ok(lenient.xml.includes(`<wsa:Action>${RAD69_ACTION}</wsa:Action>`));
    assert.ok(lenient.xml.includes(`<wsa:To>${url}</wsa:To>`));
    assert.ok(lenient.xml.includes("<wsa:MessageID>urn:uuid:"));
    assert.ok(lenient.xml.includes("<wsa:ReplyTo>"));
    assert.ok(lenient.contentType.includes(`action="${RAD69_ACTION}"`));
  }
  assert.throws(
    () =>
      buildRetrieveRequest(refs, {
        url,
        addressingMustUnderstand: "no" as unknown as boolean,
      }),
    (e) => e instanceof TypeError && /addressingMustUnderstand/.test(e.message),
  );
});

const WSSE =
  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const ONE: InstanceReference[] = [{
  studyUid: "1.2.3",
  seriesUid: "1.2.3.4",
  instanceUid: "1.2.3.4.5",
}];

Deno.test("buildRetrieveRequest() inserts the security header byte for byte", () => {
  // Odd spacing, attribute order and a comment: a re-serialiser would change them.
  const header = `<wsse:Security xmlns:wsse="${WSSE}"  b="2" a="1">` +
    `<!-- signed --><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x"  Version="2.0"/>` +
    `</wsse:Security>`;
  const request = buildRetrieveRequest(ONE, {
    url: URL_,
    securityHeader: header,
  });
  const headerAt = request.xml.indexOf(header);
  assert.ok(headerAt > 0, "the header text appears unchanged");
  assert.ok(headerAt < request.xml.indexOf("<soap:Body>"));
  assert.equal(request.xml.split(header).length, 2, "inserted once");
});

Deno.test("buildRetrieveRequest() refuses a security header that is not wsse:Security", () => {
  for (
    const [header, pattern] of [
      ["", /empty string/],
      ["<wsse:Security", /not well-formed/],
      [`<Security xmlns="urn:other"/>`, /in urn:other/],
      [`<Assertion xmlns="${WSSE}"/>`, /got <Assertion>/],
    ] as const
  ) {
    assert.throws(
      () => buildRetrieveRequest(ONE, { url: URL_, securityHeader: header }),
      (e: unknown) => e instanceof TypeError && pattern.test(e.message),
      header,
    );
  }
});

Deno.test("buildRetrieveRequest() with crossGateway sends RAD-75 and needs a HomeCommunityId", () => {
  const request = buildRetrieveRequest(ONE, {
    url: URL_,
    crossGateway: true,
    homeCommunityId: "urn:oid:1.2.3",
  });
  assert.ok(
    request.xml.includes(
      ">urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSet</wsa:Action>",
    ),
  );
  assert.ok(
    request.contentType.includes(
      `action="urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSet"`,
    ),
  );
  assert.ok(!request.xml.includes(RAD69_ACTION));
  assert.throws(
    () => buildRetrieveRequest(ONE, { url: URL_, crossGateway: true }),
    /RAD-75 request: refs\[0\].*no homeCommunityId/,
  );
});
