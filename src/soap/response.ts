/**
 * Parses the SOAP root part of a RAD-69 answer: the ITI-43
 * `RetrieveDocumentSetResponse` (status, RegistryErrors, DocumentResponses)
 * or a SOAP Fault.
 *
 * The XML is read by the package's one XML reader (`src/xml.ts`): strict,
 * namespace-aware, no DTD, no entity expansion.
 *
 * @module
 */

import { Rad69ProtocolError, SoapFaultError } from "../errors.ts";
import { hrefToContentId } from "../multipart/content_id.ts";
import type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
  RetrieveStatus,
} from "./types.ts";
import { decodeBase64 } from "../_base64.ts";
import {
  child,
  childByLocal,
  descendant,
  parseXml,
  type XmlElement,
} from "../xml.ts";

const SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
const SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/";
const XDSB_NS = "urn:ihe:iti:xds-b:2007";
const RS_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
const XOP_NS = "http://www.w3.org/2004/08/xop/include";

/** The default `@severity` of a RegistryError. */
const SEVERITY_ERROR =
  "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";

/** How many characters of the content go into an error's `excerpt`. */
const EXCERPT_LENGTH = 300;

/** Every accepted `@status` value and what it means. */
const STATUSES: ReadonlyMap<string, RetrieveStatus> = new Map([
  ["urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success", "Success"],
  ["urn:ihe:iti:2007:ResponseStatusType:PartialSuccess", "PartialSuccess"],
  [
    "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess",
    "PartialSuccess",
  ],
  ["urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure", "Failure"],
  ["Success", "Success"],
  ["PartialSuccess", "PartialSuccess"],
  ["Failure", "Failure"],
]);

/** Decodes a body given as bytes (UTF-8) or returns the string. */
function toText(xml: string | Uint8Array, fatal: boolean): string {
  if (typeof xml === "string") return xml;
  if (!(xml instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot parse SOAP response: expected a string or Uint8Array, got ${typeof xml}`,
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal }).decode(xml);
  } catch (cause) {
    throw new Rad69ProtocolError(
      "Cannot parse SOAP response: the content is not valid UTF-8",
      {
        cause,
        excerpt: new TextDecoder().decode(xml.subarray(0, EXCERPT_LENGTH)),
      },
    );
  }
}

/** The Body of a SOAP 1.2 or 1.1 Envelope, or a description of what is wrong. */
function soapBody(root: XmlElement): XmlElement | string {
  if (
    root.local !== "Envelope" ||
    (root.ns !== SOAP12_NS && root.ns !== SOAP11_NS)
  ) {
    return `the root element is "${root.name}" in namespace "${root.ns}", not a SOAP 1.2 or 1.1 Envelope`;
  }
  return child(root, root.ns, "Body") ??
    `the SOAP Envelope has no Body`;
}

/** The WS-Addressing headers the client may mark `mustUnderstand`. */
const ADDRESSING_HEADERS: ReadonlySet<string> = new Set([
  "Action",
  "To",
  "MessageID",
  "ReplyTo",
]);

/**
 * The hint added to a MustUnderstand Fault about WS-Addressing headers. It
 * names the client option and the CLI flag that send them without
 * `mustUnderstand`.
 */
const MUST_UNDERSTAND_HINT =
  "the server does not process WS-Addressing; send the headers without mustUnderstand with the client option addressingMustUnderstand: false (CLI: --no-must-understand)";

/**
 * Whether a Fault is a MustUnderstand Fault on the WS-Addressing headers:
 * code `MustUnderstand` (SOAP 1.2 `env:Value`, or SOAP 1.1 `faultcode`,
 * any prefix, also `MustUnderstand.x`), and either no `env:NotUnderstood`
 * header block names a header, or one names a WS-Addressing header the
 * client sends. A MustUnderstand Fault naming only other headers (say
 * `wsse:Security`) is not one.
 */
function isAddressingMustUnderstand(
  code: string,
  header: XmlElement | undefined,
): boolean {
  if (!/(^|:)MustUnderstand(\.|$)/.test(code)) return false;
  const named = (header?.children ?? []).filter((h) =>
    h.local === "NotUnderstood" && h.ns === SOAP12_NS
  ).map((h) => h.attrs["qname"]?.trim() ?? "").filter((q) => q !== "");
  if (named.length === 0) return true;
  return named.some((q) => ADDRESSING_HEADERS.has(q.slice(q.indexOf(":") + 1)));
}

/** Builds the error for a SOAP 1.2 or 1.1 Fault element. */
function faultError(
  fault: XmlElement,
  status: number,
  header: XmlElement | undefined,
): SoapFaultError {
  let code = "";
  let subcode = "";
  let reason = "";
  const codeElement = childByLocal(fault, "Code");
  if (codeElement) {
    code = childByLocal(codeElement, "Value")?.text.trim() ?? "";
    const sub = childByLocal(codeElement, "Subcode");
    if (sub) subcode = childByLocal(sub, "Value")?.text.trim() ?? "";
  }
  const reasonElement = childByLocal(fault, "Reason");
  if (reasonElement) {
    reason = childByLocal(reasonElement, "Text")?.text.trim() ?? "";
  }
  // SOAP 1.1: faultcode / faultstring (unqualified children).
  if (code === "") code = childByLocal(fault, "faultcode")?.text.trim() ?? "";
  if (reason === "") {
    reason = childByLocal(fault, "faultstring")?.text.trim() ?? "";
  }
  const what = subcode === "" ? code : `${code} / ${subcode}`;
  const hint = isAddressingMustUnderstand(code, header)
    ? ` (${MUST_UNDERSTAND_HINT})`
    : "";
  return new SoapFaultError(
    `Server returned a SOAP Fault (HTTP ${status}): ${what || "(no code)"}${
      reason === "" ? "" : `: ${reason}`
    }${hint}`,
    { code, subcode, reason, status },
  );
}

/** The first SOAP 1.2 or 1.1 Fault inside a Body. */
function findFault(body: XmlElement): XmlElement | undefined {
  return descendant(
    body,
    (e) => e.local === "Fault" && (e.ns === SOAP12_NS || e.ns === SOAP11_NS),
  );
}

/**
 * Looks for a SOAP Fault (SOAP 1.2 or 1.1) in the Body of any HTTP answer,
 * whatever its status (WS-I BP R1107). Never throws: a body that is not
 * XML, not a SOAP envelope, or has no Fault gives `undefined`.
 *
 * @param xml The body (or the MTOM root part), as text or UTF-8 bytes.
 * @param httpStatus The HTTP status that carried it, kept in the error.
 * @returns The Fault as an error to throw, or `undefined` when there is none.
 *
 * @example Check a 500 answer for a Fault
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSoapFault } from "@rad69/client";
 *
 * const body = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
 *   <env:Body><env:Fault>
 *     <env:Code><env:Value>env:Receiver</env:Value></env:Code>
 *     <env:Reason><env:Text xml:lang="en">Boom</env:Text></env:Reason>
 *   </env:Fault></env:Body></env:Envelope>`;
 * const fault = findSoapFault(body, 500);
 * assert.equal(fault?.code, "env:Receiver");
 * assert.equal(fault.reason, "Boom");
 * assert.equal(fault.status, 500);
 * assert.equal(findSoapFault("<html>Bad gateway</html>", 502), undefined);
 * ```
 *
 * @example A server that does not process WS-Addressing
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSoapFault } from "@rad69/client";
 *
 * // What a JAX-WS RI endpoint without AddressingFeature answers.
 * const body = `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope">
 *   <S:Header><NotUnderstood xmlns="http://www.w3.org/2003/05/soap-envelope"
 *     xmlns:abc="http://www.w3.org/2005/08/addressing" qname="abc:Action"/></S:Header>
 *   <S:Body><S:Fault><S:Code><S:Value>S:MustUnderstand</S:Value></S:Code>
 *   <S:Reason><S:Text xml:lang="en">One or more mandatory SOAP header blocks not understood</S:Text></S:Reason>
 *   </S:Fault></S:Body></S:Envelope>`;
 * const fault = findSoapFault(body, 500);
 * assert.match(fault!.message, /addressingMustUnderstand: false/);
 * assert.match(fault!.message, /--no-must-understand/);
 * ```
 */
export function findSoapFault(
  xml: string | Uint8Array,
  httpStatus: number,
): SoapFaultError | undefined {
  let text: string;
  try {
    text = toText(xml, false);
  } catch {
    return undefined;
  }
  if (text.indexOf("Fault") === -1) return undefined;
  let root: XmlElement;
  try {
    root = parseXml(text, { what: "SOAP response" });
  } catch {
    return undefined;
  }
  const body = soapBody(root);
  if (typeof body === "string") return undefined;
  const fault = findFault(body);
  return fault
    ? faultError(fault, httpStatus, child(root, root.ns, "Header"))
    : undefined;
}

/**
 * Options of {@linkcode parseRetrieveResponse}.
 *
 * @example Report the HTTP status of a Fault
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   parseRetrieveResponse,
 *   type ParseRetrieveResponseOptions,
 *   SoapFaultError,
 * } from "@rad69/client";
 *
 * const fault = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
 * <env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code>
 * <env:Reason><env:Text xml:lang="en">Busy</env:Text></env:Reason>
 * </env:Fault></env:Body></env:Envelope>`;
 * const options: ParseRetrieveResponseOptions = { httpStatus: 503 };
 * assert.throws(
 *   () => parseRetrieveResponse(fault, options),
 *   (e) => e instanceof SoapFaultError && e.status === 503 && e.reason === "Busy",
 * );
 * ```
 */
export interface ParseRetrieveResponseOptions {
  /**
   * The HTTP status that carried the answer, reported in a
   * {@linkcode SoapFaultError}.
   *
   * @default {200}
   */
  httpStatus?: number;
}

/** Reads one `rs:RegistryError`. */
function registryError(element: XmlElement): RegistryError {
  const severity = element.attrs["severity"]?.trim() || SEVERITY_ERROR;
  return {
    code: element.attrs["errorCode"] ?? "",
    context: element.attrs["codeContext"] ?? "",
    location: element.attrs["location"] ?? "",
    severity,
    isWarning: /(^|:)Warning$/i.test(severity),
  };
}

/** The status and RegistryErrors of an `rs:RegistryResponseType` element. */
export interface RegistryStatus {
  /** The normalised status. */
  readonly status: RetrieveStatus;
  /** The status URN exactly as sent. */
  readonly statusUrn: string;
  /** The RegistryErrors (and warnings) of its RegistryErrorList. */
  readonly errors: RegistryError[];
}

/**
 * Reads the `@status` and the `rs:RegistryErrorList` of an element of type
 * `rs:RegistryResponseType` (an ITI-43 `rs:RegistryResponse`, an ITI-18
 * `query:AdhocQueryResponse`): the one RegistryError reader of the package.
 *
 * @param element The element.
 * @param what Its name in messages ("RegistryResponse").
 * @param excerpt The start of the document, for errors.
 * @returns The status, its URN and the errors.
 * @throws {Rad69ProtocolError} When the status is missing or unknown.
 */
export function readRegistryStatus(
  element: XmlElement,
  what: string,
  excerpt: string,
): RegistryStatus {
  const statusUrn = element.attrs["status"]?.trim() ?? "";
  const status = STATUSES.get(statusUrn);
  if (!status) {
    throw new Rad69ProtocolError(
      statusUrn === ""
        ? `Cannot parse SOAP response: the ${what} has no status`
        : `Cannot parse SOAP response: unknown ${what} status "${statusUrn}"`,
      { excerpt },
    );
  }
  const errors: RegistryError[] = [];
  for (const list of element.children) {
    if (list.local !== "RegistryErrorList" || list.ns !== RS_NS) continue;
    for (const e of list.children) {
      if (e.local === "RegistryError" && e.ns === RS_NS) {
        errors.push(registryError(e));
      }
    }
  }
  return { status, statusUrn, errors };
}

/** A SOAP answer's Body, read and checked for a Fault. */
export interface SoapAnswerBody {
  /** The document as text. */
  readonly text: string;
  /** Its first characters, for errors. */
  readonly excerpt: string;
  /** The Envelope's Body. */
  readonly body: XmlElement;
}

/**
 * Decodes (strict UTF-8) and parses a SOAP answer, finds its Body and
 * throws the Fault it holds, if any.
 *
 * @param xml The envelope, as text or UTF-8 bytes.
 * @param httpStatus The HTTP status that carried it, kept in a Fault.
 * @returns The text, an excerpt and the Body.
 * @throws {SoapFaultError} When the Body holds a SOAP 1.2 or 1.1 Fault.
 * @throws {Rad69ProtocolError} When the content is not UTF-8, not XML, or
 * not a SOAP Envelope with a Body.
 */
export function readSoapBody(
  xml: string | Uint8Array,
  httpStatus: number,
): SoapAnswerBody {
  const text = toText(xml, true);
  const excerpt = text.slice(0, EXCERPT_LENGTH);
  const root = parseXml(text, { what: "SOAP response" });
  const body = soapBody(root);
  if (typeof body === "string") {
    throw new Rad69ProtocolError(`Cannot parse SOAP response: ${body}`, {
      excerpt,
    });
  }
  const fault = findFault(body);
  if (fault) {
    throw faultError(fault, httpStatus, child(root, root.ns, "Header"));
  }
  return { text, excerpt, body };
}

/** Reads one `xdsb:DocumentResponse`. */
function documentResponse(
  element: XmlElement,
  index: number,
  text: string,
): DocumentResponse {
  const excerpt = text.slice(0, EXCERPT_LENGTH);
  const documentUniqueId =
    child(element, XDSB_NS, "DocumentUniqueId")?.text.trim() ?? "";
  if (documentUniqueId === "") {
    throw new Rad69ProtocolError(
      `Cannot parse SOAP response: DocumentResponse ${
        index + 1
      } has no DocumentUniqueId`,
      { excerpt },
    );
  }
  const document = child(element, XDSB_NS, "Document");
  if (!document) {
    throw new Rad69ProtocolError(
      `Cannot parse SOAP response: the DocumentResponse for "${documentUniqueId}" has no Document element`,
      { excerpt },
    );
  }
  const out: {
    documentUniqueId: string;
    repositoryUniqueId: string;
    homeCommunityId?: string;
    mimeType: string;
    contentId?: string;
    inline?: Uint8Array;
  } = {
    documentUniqueId,
    repositoryUniqueId:
      child(element, XDSB_NS, "RepositoryUniqueId")?.text.trim() ?? "",
    mimeType: child(element, XDSB_NS, "mimeType")?.text.trim() ?? "",
  };
  const community = child(element, XDSB_NS, "HomeCommunityId");
  if (community) out.homeCommunityId = community.text.trim();
  const include = child(document, XOP_NS, "Include");
  if (include) {
    const href = include.attrs["href"]?.trim() ?? "";
    if (href === "") {
      throw new Rad69ProtocolError(
        `Cannot parse SOAP response: the xop:Include of document "${documentUniqueId}" has no href`,
        { excerpt },
      );
    }
    out.contentId = hrefToContentId(href);
  } else {
    const bytes = decodeBase64(document.text);
    if (!bytes) {
      throw new Rad69ProtocolError(
        `Cannot parse SOAP response: the inline Document of "${documentUniqueId}" is not valid base64`,
        { excerpt },
      );
    }
    out.inline = bytes;
  }
  return out;
}

/**
 * Parses the SOAP root part of a RAD-69 answer into its status,
 * RegistryErrors and DocumentResponses. Elements are matched by namespace
 * URI and local name, whatever the prefixes. Each document is either an
 * `xop:Include` (its Content-ID, RFC 2392-normalised, is returned) or
 * inline base64 (decoded). No entity is ever expanded: a `<!DOCTYPE` is
 * rejected.
 *
 * @param xml The SOAP envelope, as text or UTF-8 bytes.
 * @param options The HTTP status, reported in a Fault.
 * @returns The normalised status, the errors and warnings, the documents.
 * @throws {SoapFaultError} When the Body holds a SOAP 1.2 or 1.1 Fault.
 * @throws {Rad69ProtocolError} When the XML is malformed or holds a
 * DOCTYPE, when the Envelope, Body, RetrieveDocumentSetResponse or
 * RegistryResponse is missing, when the status is unknown, or when a
 * DocumentResponse is incomplete or its inline base64 is invalid.
 *
 * @example Parse a Success with one MTOM document
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetrieveResponse } from "@rad69/client";
 *
 * const xml = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
 * <RetrieveDocumentSetResponse xmlns="urn:ihe:iti:xds-b:2007">
 *   <RegistryResponse xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
 *     status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>
 *   <DocumentResponse>
 *     <RepositoryUniqueId>1.2.3</RepositoryUniqueId>
 *     <DocumentUniqueId>1.2.3.4.5</DocumentUniqueId>
 *     <mimeType>application/dicom</mimeType>
 *     <Document><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include"
 *       href="cid:1%40example"/></Document>
 *   </DocumentResponse>
 * </RetrieveDocumentSetResponse></s:Body></s:Envelope>`;
 * const response = parseRetrieveResponse(xml);
 * assert.equal(response.status, "Success");
 * assert.equal(response.documents[0]?.documentUniqueId, "1.2.3.4.5");
 * assert.equal(response.documents[0]?.contentId, "1@example");
 * ```
 */
export function parseRetrieveResponse(
  xml: string | Uint8Array,
  options?: ParseRetrieveResponseOptions,
): RetrieveResponse {
  const { text, excerpt, body } = readSoapBody(
    xml,
    options?.httpStatus ?? 200,
  );

  const response = bodyElement(
    body,
    XDSB_NS,
    "RetrieveDocumentSetResponse",
    "xdsb",
    excerpt,
  );
  const registry = child(response, RS_NS, "RegistryResponse");
  if (!registry) {
    throw new Rad69ProtocolError(
      "Cannot parse SOAP response: the RetrieveDocumentSetResponse has no rs:RegistryResponse",
      { excerpt },
    );
  }
  const { status, statusUrn, errors } = readRegistryStatus(
    registry,
    "RegistryResponse",
    excerpt,
  );
  const documents: DocumentResponse[] = [];
  for (const e of response.children) {
    if (e.local === "DocumentResponse" && e.ns === XDSB_NS) {
      documents.push(documentResponse(e, documents.length, text));
    }
  }
  return { status, statusUrn, errors, documents };
}

/**
 * The answer element of a SOAP Body (the first of that name, at any depth:
 * some servers wrap it), or a protocol error saying what the Body holds.
 *
 * @param body The SOAP Body.
 * @param ns The element's namespace URI.
 * @param local Its local name.
 * @param prefix The prefix it is named with in messages.
 * @param excerpt The answer's excerpt, for the error.
 * @returns The element.
 * @throws {Rad69ProtocolError} When the Body holds no such element.
 */
export function bodyElement(
  body: XmlElement,
  ns: string,
  local: string,
  prefix: string,
  excerpt: string,
): XmlElement {
  const found = descendant(body, (e) => e.local === local && e.ns === ns);
  if (found) return found;
  const first = body.children[0];
  throw new Rad69ProtocolError(
    `Cannot parse SOAP response: the Body holds no ${prefix}:${local}${
      first ? ` (found "${first.name}" in namespace "${first.ns}")` : ""
    }`,
    { excerpt },
  );
}
