/**
 * The one SOAP 1.2 request writer of the package: the envelope with its
 * WS-Addressing headers and an optional `wsse:Security` header, packaged as
 * plain `application/soap+xml` or as an MTOM/XOP `multipart/related`
 * message. Every transaction (RAD-69, RAD-75, ITI-43, ITI-39, ITI-18,
 * ITI-38) builds only its Body element and hands it here.
 *
 * @module
 */

import { InvalidUidError } from "../errors.ts";
import { parseXml } from "../xml.ts";

const SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
const WSA_NS = "http://www.w3.org/2005/08/addressing";
const WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous";
const WSSE_NS =
  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

/** Characters XML 1.0 cannot carry at all, not even escaped. */
// deno-lint-ignore no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/**
 * A request ready to be POSTed.
 *
 * @example POST a built request
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRetrieveRequest, type RetrieveRequest } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const request: RetrieveRequest = buildRetrieveRequest(study, {
 *   url: server.url,
 * });
 * const response = await fetch(server.url, {
 *   method: "POST",
 *   headers: { "content-type": request.contentType },
 *   body: request.body as Uint8Array<ArrayBuffer>,
 * });
 * await response.body?.cancel();
 * assert.equal(response.status, 200);
 * assert.equal(server.requests[0]!.messageId, request.messageId);
 * ```
 */
export interface RetrieveRequest {
  /** The HTTP body: the SOAP envelope, or the MTOM package holding it. */
  readonly body: Uint8Array;
  /** The HTTP `Content-Type` header value. */
  readonly contentType: string;
  /** The `wsa:MessageID` sent. */
  readonly messageId: string;
  /** The SOAP envelope as text (the root part, for MTOM). */
  readonly xml: string;
}

/** What {@linkcode buildSoapRequest} wraps around a Body element. */
export interface SoapRequestParts {
  /** The `wsa:Action` (and the SOAP 1.2 `action` media-type parameter). */
  readonly action: string;
  /** The endpoint URL, sent as `wsa:To`. */
  readonly url: string;
  /** The Body's one child element, already serialised. */
  readonly body: string;
  /** What the request is, for error messages ("RAD-69 request"). */
  readonly what: string;
  /** The `wsa:MessageID`; a fresh `urn:uuid:` when absent. */
  readonly messageId?: string | undefined;
  /** `false` sends `wsa:Action`/`wsa:To` without `mustUnderstand="1"`. */
  readonly addressingMustUnderstand?: boolean | undefined;
  /** A `<wsse:Security>` element, inserted byte for byte. */
  readonly securityHeader?: string | undefined;
  /** `true` for an MTOM/XOP package. */
  readonly mtom?: boolean | undefined;
}

/**
 * Escapes a value for XML text or a quoted attribute.
 *
 * @throws {TypeError} When the value holds a character XML cannot carry;
 * the message names `where`.
 */
export function escapeXmlValue(
  value: string,
  where: string,
  what: string,
): string {
  if (NOT_XML_CHAR.test(value)) {
    throw new TypeError(
      `Cannot build ${what}: ${where} holds a character XML cannot carry`,
    );
  }
  return value.replace(/[&<>"'\t\n\r]/g, (c) => {
    switch (c) {
      case "&":
        return "&amp;";
      case "<":
        return "&lt;";
      case ">":
        return "&gt;";
      case '"':
        return "&quot;";
      case "'":
        return "&apos;";
      default:
        return `&#${c.charCodeAt(0)};`;
    }
  });
}

/**
 * Checks a free-text value (HomeCommunityId, MessageID) is a non-empty
 * string.
 *
 * @throws {InvalidUidError} Naming `where`.
 */
export function assertText(
  value: unknown,
  where: string,
): asserts value is string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new InvalidUidError(
      String(value),
      where,
      "is not a non-empty string",
    );
  }
}

/**
 * Checks that a security header is one well-formed `wsse:Security` element
 * (WS-Security 1.0 namespace), without changing a byte of it: a signed
 * SAML assertion must reach the server exactly as the STS issued it.
 *
 * @throws {TypeError} Saying what is wrong with it; never quoting it.
 */
export function assertSecurityHeader(header: unknown, what: string): string {
  if (typeof header !== "string" || header.trim() === "") {
    throw new TypeError(
      `Cannot build ${what}: securityHeader must return the XML of a <wsse:Security> element, got ${
        typeof header === "string" ? "an empty string" : typeof header
      }`,
    );
  }
  let root;
  try {
    root = parseXml(header, { what: "securityHeader" });
  } catch (error) {
    throw new TypeError(
      `Cannot build ${what}: securityHeader is not well-formed XML (${
        (error as Error).message.split(":")[0]
      })`,
    );
  }
  if (root.local !== "Security" || root.ns !== WSSE_NS) {
    throw new TypeError(
      `Cannot build ${what}: securityHeader must be a <Security> element in ${WSSE_NS}, got <${root.local}>${
        root.ns ? ` in ${root.ns}` : " in no namespace"
      }`,
    );
  }
  return header.replace(/^\s*<\?xml[^>]*\?>\s*/, "");
}

/**
 * Wraps a Body element in a SOAP 1.2 envelope with WS-Addressing headers
 * (`wsa:Action` and `wsa:To` with `mustUnderstand="1"` unless
 * `addressingMustUnderstand` is `false`, `wsa:MessageID`, anonymous
 * `wsa:ReplyTo`) and, when given, the caller's `wsse:Security` header,
 * then packages it.
 *
 * @param parts The action, URL, Body element and options.
 * @returns The body, its Content-Type and the MessageID.
 * @throws {TypeError} When the URL cannot be parsed or the security header
 * is not a `wsse:Security` element.
 * @throws {InvalidUidError} When the MessageID is empty.
 *
 * @example Wrap a Body element
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildSoapRequest } from "./envelope.ts";
 *
 * const request = buildSoapRequest({
 *   action: "urn:example:Ping",
 *   url: "http://127.0.0.1:8080/ping",
 *   body: `<p:Ping xmlns:p="urn:example"/>`,
 *   what: "ping request",
 * });
 * assert.ok(request.xml.includes("<wsa:Action"));
 * assert.ok(request.contentType.includes(`action="urn:example:Ping"`));
 * ```
 */
export function buildSoapRequest(parts: SoapRequestParts): RetrieveRequest {
  const { action, url, what } = parts;
  if (typeof url !== "string" || !URL.canParse(url)) {
    throw new TypeError(`Cannot build ${what}: invalid url "${String(url)}"`);
  }
  const messageId = parts.messageId ?? `urn:uuid:${crypto.randomUUID()}`;
  assertText(messageId, "options.messageId");
  const mustUnderstand = parts.addressingMustUnderstand ?? true;
  if (typeof mustUnderstand !== "boolean") {
    throw new TypeError(
      `Cannot build ${what}: addressingMustUnderstand must be a boolean, got ${typeof mustUnderstand}`,
    );
  }
  const security = parts.securityHeader === undefined
    ? ""
    : assertSecurityHeader(parts.securityHeader, what);
  const mu = mustUnderstand ? ` soap:mustUnderstand="1"` : "";
  const xml = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<soap:Envelope xmlns:soap="${SOAP12_NS}" xmlns:wsa="${WSA_NS}">`,
    `<soap:Header>`,
    `<wsa:Action${mu}>${escapeXmlValue(action, "action", what)}</wsa:Action>`,
    `<wsa:MessageID>${
      escapeXmlValue(messageId, "options.messageId", what)
    }</wsa:MessageID>`,
    `<wsa:ReplyTo><wsa:Address>${WSA_ANONYMOUS}</wsa:Address></wsa:ReplyTo>`,
    `<wsa:To${mu}>${escapeXmlValue(url, "options.url", what)}</wsa:To>`,
    security,
    `</soap:Header>`,
    `<soap:Body>`,
    parts.body,
    "</soap:Body>",
    "</soap:Envelope>",
  ].join("");
  return packageSoap(xml, action, messageId, parts.mtom ?? false);
}

/** Packages an envelope as plain SOAP 1.2 or as an MTOM/XOP message. */
function packageSoap(
  xml: string,
  action: string,
  messageId: string,
  mtom: boolean,
): RetrieveRequest {
  const encoder = new TextEncoder();
  if (!mtom) {
    return {
      body: encoder.encode(xml),
      contentType: `application/soap+xml; charset=UTF-8; action="${action}"`,
      messageId,
      xml,
    };
  }
  const id = crypto.randomUUID();
  const boundary = `MIMEBoundary_${id.replaceAll("-", "")}`;
  const rootId = `root.${id}@rad69.client`;
  const head = [
    `--${boundary}`,
    `Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"`,
    "Content-Transfer-Encoding: binary",
    `Content-ID: <${rootId}>`,
    "",
    "",
  ].join("\r\n");
  return {
    body: encoder.encode(`${head}${xml}\r\n--${boundary}--\r\n`),
    contentType:
      `multipart/related; type="application/xop+xml"; boundary="${boundary}"; start="<${rootId}>"; start-info="application/soap+xml"; action="${action}"`,
    messageId,
    xml,
  };
}

/**
 * One xds-b `DocumentRequest` (HomeCommunityId?, RepositoryUniqueId,
 * DocumentUniqueId): the element RAD-69, RAD-75, ITI-43 and ITI-39 requests
 * share. The UIDs must have been checked (digits and dots: nothing to
 * escape); the HomeCommunityId is escaped.
 *
 * @param doc The ids.
 * @param where Where the HomeCommunityId came from, for messages.
 * @param what What the request is, for messages.
 * @returns The element, with the `xdsb` prefix.
 */
export function documentRequestXml(
  doc: {
    readonly repositoryUniqueId: string;
    readonly documentUniqueId: string;
    readonly homeCommunityId?: string | undefined;
  },
  where: string,
  what: string,
): string {
  const community = doc.homeCommunityId === undefined
    ? ""
    : `<xdsb:HomeCommunityId>${
      escapeXmlValue(doc.homeCommunityId, where, what)
    }</xdsb:HomeCommunityId>`;
  return `<xdsb:DocumentRequest>${community}<xdsb:RepositoryUniqueId>${doc.repositoryUniqueId}</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>${doc.documentUniqueId}</xdsb:DocumentUniqueId></xdsb:DocumentRequest>`;
}
