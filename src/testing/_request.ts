/**
 * Parsing and validation of RAD-69 requests for the fake server. Private to
 * the testing module.
 *
 * @module
 */

import { parseXml, type XmlElement } from "../xml.ts";
import {
  type MediaType,
  parseMediaType,
  stripAngleBrackets,
} from "../multipart/content_type.ts";

export const SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
export const SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/";
export const WSA_NS = "http://www.w3.org/2005/08/addressing";
export const WSSE_NS =
  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
export const XDSI_NS = "urn:ihe:rad:xdsi-b:2009";
export const XDSB_NS = "urn:ihe:iti:xds-b:2007";
export const RAD69_ACTION = "urn:ihe:rad:2009:RetrieveImagingDocumentSet";
export const RAD75_ACTION =
  "urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSet";
export const ITI43_ACTION = "urn:ihe:iti:2007:RetrieveDocumentSet";
export const ITI39_ACTION = "urn:ihe:iti:2007:CrossGatewayRetrieve";

/** The actions whose body is an ITI-43 RetrieveDocumentSetRequest. */
export const DOCUMENT_SET_ACTIONS: ReadonlySet<string> = new Set([
  ITI43_ACTION,
  ITI39_ACTION,
]);

/** A rejected request, answered with a SOAP 1.2 Fault. */
export class RequestFault extends Error {
  /** SOAP 1.2 fault code (local name in the envelope namespace). */
  readonly code: "Sender" | "Receiver" | "MustUnderstand" | "VersionMismatch";
  /** Subcode QName (`wsa:` prefix understood), if any. */
  readonly subcode: string | undefined;
  /** HTTP status of the answer. */
  readonly status: number;

  /** Creates the fault. */
  constructor(
    reason: string,
    code: RequestFault["code"] = "Sender",
    subcode?: string,
    status?: number,
  ) {
    super(reason);
    this.name = "RequestFault";
    this.code = code;
    this.subcode = subcode;
    this.status = status ?? (code === "Sender" ? 400 : 500);
  }
}

/** Parses a Content-Type with the package's one media-type parser. */
function mediaType(value: string, where: string): MediaType {
  try {
    return parseMediaType(value);
  } catch {
    throw new RequestFault(
      `Cannot parse the ${where} "${value}"`,
      "Sender",
      undefined,
      415,
    );
  }
}

/**
 * A media type given as a parameter value (`type`, `start-info`), read
 * leniently: Metro writes `type="application/soap+xml;action=\"urn:…\""`.
 */
function innerType(value: string, where: string): MediaType {
  return mediaType(value, `${where} parameter`);
}

/** An action found in a Content-Type, with where it was found. */
interface ActionCarrier {
  readonly where: string;
  readonly value: string;
}

/** Decodes text in the given charset (UTF-8 when none). */
function decodeText(bytes: Uint8Array, charset: string | undefined): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? "utf-8", { fatal: true });
  } catch {
    throw new RequestFault(`Unsupported charset "${charset}"`, "Sender");
  }
  try {
    return decoder.decode(bytes);
  } catch {
    throw new RequestFault(
      `Request body is not valid ${charset ?? "UTF-8"}`,
      "Sender",
    );
  }
}

/** Rejects a SOAP 1.1 media type where SOAP 1.2 is expected. */
function soap12Type(media: MediaType, where: string): void {
  if (media.essence === "application/soap+xml") return;
  if (media.essence === "text/xml") {
    throw new RequestFault(
      `${where} is "text/xml", SOAP 1.1; this endpoint speaks SOAP 1.2`,
      "VersionMismatch",
      undefined,
      500,
    );
  }
  throw new RequestFault(
    `${where} is "${media.essence}" (expected "application/soap+xml")`,
  );
}

/** One DocumentRequest, with its study and series. */
export interface ParsedDocument {
  studyUid: string;
  seriesUid: string;
  documentUniqueId: string;
  repositoryUniqueId: string;
  homeCommunityId?: string;
}

/** What a request asked for, as far as it could be read. */
export interface ParsedRequest {
  mtom: boolean;
  soapXml: string;
  action?: string;
  messageId?: string;
  to?: string;
  /** The `wsse:Security` header element, when one was sent. */
  security?: XmlElement;
  documents: ParsedDocument[];
  transferSyntaxes: string[];
}

/** Finds the index of `needle` in `hay` from `from`. */
function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    if (hay[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/**
 * Splits an MTOM request and returns the root part's text. Actions found in
 * `start-info` and in the root part's `type` are pushed to `actions`.
 */
function mtomRoot(
  body: Uint8Array,
  media: MediaType,
  actions: ActionCarrier[],
): string {
  const boundary = media.params.get("boundary");
  if (!boundary) {
    throw new RequestFault("Multipart request without a boundary parameter");
  }
  const type = media.params.get("type");
  if (
    type !== undefined &&
    innerType(type, "multipart type").essence !== "application/xop+xml"
  ) {
    throw new RequestFault(
      `Multipart request of type "${type}" (expected "application/xop+xml")`,
    );
  }
  const startInfo = media.params.get("start-info");
  if (startInfo !== undefined) {
    const info = innerType(startInfo, "start-info");
    soap12Type(info, "The start-info parameter");
    const action = info.params.get("action");
    if (action !== undefined) {
      actions.push({ where: "start-info action", value: action });
    }
  }
  const enc = new TextEncoder();
  const delimiter = enc.encode("--" + boundary);
  const parts: { headers: Map<string, string>; body: Uint8Array }[] = [];
  let pos = indexOf(body, delimiter, 0);
  if (pos < 0) throw new RequestFault("Multipart request without a delimiter");
  let closed = false;
  while (pos >= 0) {
    let start = pos + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) {
      closed = true;
      break;
    }
    // Skip transport padding to the end of the line.
    while (start < body.length && body[start] !== 0x0a) start++;
    start++;
    const next = indexOf(body, delimiter, start);
    if (next < 0) break;
    let end = next;
    if (body[end - 1] === 0x0a) end--;
    if (body[end - 1] === 0x0d) end--;
    const raw = body.subarray(start, end);
    let headerEnd = indexOf(raw, enc.encode("\r\n\r\n"), 0);
    let sep = 4;
    if (headerEnd < 0) {
      headerEnd = indexOf(raw, enc.encode("\n\n"), 0);
      sep = 2;
    }
    if (headerEnd < 0) throw new RequestFault("Multipart part without headers");
    const headers = new Map<string, string>();
    const headerText = new TextDecoder().decode(raw.subarray(0, headerEnd));
    for (const line of headerText.split(/\r?\n/)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(
          line.slice(0, colon).trim().toLowerCase(),
          line.slice(colon + 1).trim(),
        );
      }
    }
    parts.push({ headers, body: raw.subarray(headerEnd + sep) });
    pos = next;
  }
  if (!closed) {
    throw new RequestFault("Multipart request without its closing delimiter");
  }
  if (parts.length === 0) throw new RequestFault("Multipart request is empty");
  const start = media.params.get("start");
  const root = start === undefined
    ? parts[0]!
    : parts.find((p) =>
      stripAngleBrackets(p.headers.get("content-id") ?? "") ===
        stripAngleBrackets(start)
    );
  if (!root) {
    throw new RequestFault(`No part has the start Content-ID "${start}"`);
  }
  const rootHeader = root.headers.get("content-type");
  if (rootHeader === undefined) {
    throw new RequestFault("Root part without a Content-Type");
  }
  const rootType = mediaType(rootHeader, "root part Content-Type");
  if (rootType.essence !== "application/xop+xml") {
    throw new RequestFault(
      `Root part of type "${rootType.essence}" (expected "application/xop+xml")`,
    );
  }
  const inner = rootType.params.get("type");
  if (inner !== undefined) {
    const carried = innerType(inner, "root part type");
    soap12Type(carried, "The root part's type parameter");
    const action = carried.params.get("action");
    if (action !== undefined) {
      actions.push({ where: "root part type action", value: action });
    }
  }
  return decodeText(root.body, rootType.params.get("charset"));
}

/** Requires exactly the given namespace and local name. */
export function expect(
  el: XmlElement,
  ns: string,
  local: string,
  where: string,
) {
  if (el.ns !== ns || el.local !== local) {
    throw new RequestFault(
      `Expected {${ns}}${local} in ${where}, got {${el.ns}}${el.local}`,
    );
  }
}

/** Rejects non-whitespace text directly inside an element. */
export function noText(el: XmlElement, where: string) {
  if (el.text.trim() !== "") {
    throw new RequestFault(`Unexpected text inside ${where}`);
  }
}

/** The trimmed, non-empty text of a leaf element. */
export function leaf(el: XmlElement, where: string): string {
  if (el.children.length > 0) {
    throw new RequestFault(`Unexpected element inside ${where}`);
  }
  const value = el.text.trim();
  if (value === "") throw new RequestFault(`Empty ${where}`);
  return value;
}

/** A required attribute, exact case. */
export function attribute(el: XmlElement, name: string, where: string): string {
  const value = el.attrs[name];
  if (value === undefined || value.trim() === "") {
    const wrongCase = Object.keys(el.attrs).find((k) =>
      k.toLowerCase() === name.toLowerCase()
    );
    throw new RequestFault(
      wrongCase
        ? `${where} has attribute "${wrongCase}" (expected "${name}", case-sensitive)`
        : `${where} lacks the required attribute "${name}"`,
    );
  }
  return value.trim();
}

/** How strict the request reader is. */
export interface ParseRequestOptions {
  /** Fault plain `application/soap+xml` requests. */
  readonly requireMtom: boolean;
  /**
   * Process WS-Addressing headers. `false`: every `mustUnderstand` header,
   * WS-Addressing ones included, gets a MustUnderstand Fault, and `wsa:`
   * headers are otherwise ignored (JAX-WS RI without AddressingFeature).
   */
  readonly processAddressing: boolean;
  /** The actions this endpoint serves (RAD-69 when absent). */
  readonly actions?: readonly string[];
}

/** A request's SOAP envelope, read and checked, before its Body. */
export interface SoapEnvelopeRequest {
  mtom: boolean;
  soapXml: string;
  /** The action served (the wsa:Action, or the carriers' one). */
  action: string;
  messageId?: string;
  to?: string;
  /** The `wsse:Security` header element, when one was sent. */
  security?: XmlElement;
  /** The one element of the SOAP Body. */
  body: XmlElement;
}

/** The reason JAX-WS RI (Metro) gives for a SOAP 1.2 MustUnderstand Fault. */
export const METRO_MUST_UNDERSTAND_REASON =
  "One or more mandatory SOAP header blocks not understood";

/**
 * Reads and validates a request's framing, envelope and SOAP headers (the
 * action among `options.actions`), up to the one element of its Body.
 * Throws a {@linkcode RequestFault}; `partial` receives whatever was read
 * before the failure.
 */
export function readSoapEnvelope(
  contentType: string | null,
  body: Uint8Array,
  options: ParseRequestOptions,
  partial: Partial<ParsedRequest>,
): SoapEnvelopeRequest {
  const served = options.actions ?? [RAD69_ACTION];
  const expectedText = served.join('" or "');
  if (!contentType) {
    throw new RequestFault("Missing Content-Type", "Sender", undefined, 415);
  }
  const media = mediaType(contentType, "Content-Type");
  const carriers: ActionCarrier[] = [];
  const outerAction = media.params.get("action");
  if (outerAction !== undefined) {
    carriers.push({ where: "Content-Type action", value: outerAction });
  }
  let soapXml: string;
  let mtom = false;
  if (media.essence === "multipart/related") {
    mtom = true;
    partial.mtom = true;
    soapXml = mtomRoot(body, media, carriers);
  } else if (media.essence === "application/soap+xml") {
    partial.mtom = false;
    if (options.requireMtom) {
      throw new RequestFault(
        "Request is not MTOM/XOP: expected multipart/related",
      );
    }
    soapXml = decodeText(body, media.params.get("charset"));
  } else if (media.essence === "text/xml") {
    throw new RequestFault(
      `Content-Type "text/xml" is SOAP 1.1; this endpoint speaks SOAP 1.2`,
      "VersionMismatch",
      undefined,
      415,
    );
  } else {
    throw new RequestFault(
      `Unsupported Content-Type "${media.essence}"`,
      "Sender",
      undefined,
      415,
    );
  }
  partial.soapXml = soapXml;

  let envelope: XmlElement;
  try {
    envelope = parseXml(soapXml);
  } catch (e) {
    throw new RequestFault(`Malformed XML: ${(e as Error).message}`);
  }
  if (envelope.local === "Envelope" && envelope.ns === SOAP11_NS) {
    throw new RequestFault(
      "SOAP 1.1 envelope; this endpoint speaks SOAP 1.2",
      "VersionMismatch",
    );
  }
  expect(envelope, SOAP12_NS, "Envelope", "the document");
  noText(envelope, "soap:Envelope");
  const envChildren = envelope.children;
  let header: XmlElement | undefined;
  let bodyEl: XmlElement | undefined;
  for (const child of envChildren) {
    if (
      child.ns === SOAP12_NS && child.local === "Header" && !header && !bodyEl
    ) {
      header = child;
    } else if (child.ns === SOAP12_NS && child.local === "Body" && !bodyEl) {
      bodyEl = child;
    } else {
      throw new RequestFault(
        `Unexpected {${child.ns}}${child.local} in soap:Envelope`,
      );
    }
  }
  if (!bodyEl) throw new RequestFault("soap:Envelope has no soap:Body");

  // Headers.
  const actions: string[] = [];
  const notUnderstood: string[] = [];
  let security: XmlElement | undefined;
  for (const h of header ? header.children : []) {
    if (h.ns === WSSE_NS && h.local === "Security") security ??= h;
    const mu = h.attrs[`{${SOAP12_NS}}mustUnderstand`]?.trim();
    const mandatory = mu === "1" || mu === "true";
    if (h.ns === WSA_NS) {
      // Recorded either way; only enforced when WS-Addressing is processed.
      if (h.local === "Action") actions.push(h.text);
      else if (h.local === "MessageID") partial.messageId = h.text.trim();
      else if (h.local === "To") partial.to = h.text.trim();
      if (mandatory && !options.processAddressing) {
        notUnderstood.push(`{${h.ns}}${h.local}`);
      }
    } else if (mandatory && h.ns !== WSSE_NS) {
      notUnderstood.push(`{${h.ns}}${h.local}`);
    }
  }
  if (actions.length > 0) partial.action = actions[0]!;
  if (notUnderstood.length > 0) {
    throw new RequestFault(
      options.processAddressing
        ? `Header ${notUnderstood[0]} is mustUnderstand and not understood`
        : METRO_MUST_UNDERSTAND_REASON,
      "MustUnderstand",
    );
  }
  const action = actions[0] ??
    carriers.find((c) => served.includes(c.value.trim()))?.value.trim() ??
    carriers[0]?.value.trim() ?? "";
  const wrong = carriers.find((c) => c.value.trim() !== action);
  if (!options.processAddressing) {
    const bad = wrong ?? carriers.find((c) => !served.includes(c.value.trim()));
    if (bad) {
      throw new RequestFault(
        `The ${bad.where} "${bad.value}" cannot be processed at the receiver (expected "${expectedText}")`,
      );
    }
  } else {
    if (actions.length === 0) {
      throw new RequestFault(
        "A required header representing a Message Addressing Property is not present: Action",
        "Sender",
        "wsa:MessageAddressingHeaderRequired",
      );
    }
    if (actions.length > 1) {
      throw new RequestFault(
        "More than one wsa:Action header",
        "Sender",
        "wsa:InvalidAddressingHeader",
      );
    }
    if (!served.includes(action)) {
      throw new RequestFault(
        `The action "${action}" cannot be processed at the receiver (expected "${expectedText}")`,
        "Sender",
        "wsa:ActionNotSupported",
      );
    }
    if (wrong) {
      throw new RequestFault(
        `The ${wrong.where} "${wrong.value}" differs from wsa:Action "${action}"`,
        "Sender",
        "wsa:ActionMismatch",
      );
    }
  }

  noText(bodyEl, "soap:Body");
  const bodyChildren = bodyEl.children;
  if (bodyChildren.length !== 1) {
    throw new RequestFault(
      `soap:Body must hold exactly one element, it holds ${bodyChildren.length}`,
    );
  }
  return {
    mtom,
    soapXml,
    action,
    ...(partial.messageId !== undefined
      ? { messageId: partial.messageId }
      : {}),
    ...(partial.to !== undefined ? { to: partial.to } : {}),
    ...(security ? { security } : {}),
    body: bodyChildren[0]!,
  };
}

/**
 * Reads and validates a RAD-69 request. Returns the parsed request, or
 * throws a {@linkcode RequestFault}; `partial` receives whatever was read
 * before the failure.
 */
export function parseRequest(
  contentType: string | null,
  body: Uint8Array,
  options: ParseRequestOptions,
  partial: Partial<ParsedRequest>,
): ParsedRequest {
  const envelope = readSoapEnvelope(contentType, body, options, partial);
  const request = envelope.body;
  if (envelope.security) partial.security = envelope.security;
  if (DOCUMENT_SET_ACTIONS.has(envelope.action)) {
    return parsedRequest(envelope, readDocumentSet(request, partial), []);
  }
  expect(
    request,
    XDSI_NS,
    "RetrieveImagingDocumentSetRequest",
    "soap:Body",
  );
  noText(request, "RetrieveImagingDocumentSetRequest");
  const documents: ParsedDocument[] = [];
  const transferSyntaxes: string[] = [];
  partial.documents = documents;
  partial.transferSyntaxes = transferSyntaxes;
  const reqChildren = request.children;
  let studies = 0;
  let tsList = 0;
  for (const child of reqChildren) {
    if (child.ns === XDSI_NS && child.local === "StudyRequest") {
      if (tsList > 0) {
        throw new RequestFault("StudyRequest after TransferSyntaxUIDList");
      }
      studies++;
      readStudy(child, documents);
    } else if (
      child.ns === XDSI_NS && child.local === "TransferSyntaxUIDList"
    ) {
      tsList++;
      noText(child, "TransferSyntaxUIDList");
      for (const ts of child.children) {
        expect(ts, XDSI_NS, "TransferSyntaxUID", "TransferSyntaxUIDList");
        transferSyntaxes.push(leaf(ts, "TransferSyntaxUID"));
      }
    } else {
      throw new RequestFault(
        `Unexpected {${child.ns}}${child.local} in RetrieveImagingDocumentSetRequest`,
      );
    }
  }
  if (studies === 0) {
    throw new RequestFault(
      "RetrieveImagingDocumentSetRequest has no StudyRequest",
    );
  }
  if (tsList !== 1) {
    throw new RequestFault(
      `RetrieveImagingDocumentSetRequest must hold exactly one TransferSyntaxUIDList, it holds ${tsList}`,
    );
  }
  if (transferSyntaxes.length === 0) {
    throw new RequestFault("TransferSyntaxUIDList is empty");
  }
  return parsedRequest(envelope, documents, transferSyntaxes);
}

/** The parsed request of an envelope and what its Body asked for. */
function parsedRequest(
  envelope: SoapEnvelopeRequest,
  documents: ParsedDocument[],
  transferSyntaxes: string[],
): ParsedRequest {
  return {
    mtom: envelope.mtom,
    soapXml: envelope.soapXml,
    action: envelope.action,
    ...(envelope.messageId !== undefined
      ? { messageId: envelope.messageId }
      : {}),
    ...(envelope.to !== undefined ? { to: envelope.to } : {}),
    ...(envelope.security ? { security: envelope.security } : {}),
    documents,
    transferSyntaxes,
  };
}

/** Reads one StudyRequest into `out`. */
function readStudy(study: XmlElement, out: ParsedDocument[]): void {
  const studyUid = attribute(study, "studyInstanceUID", "StudyRequest");
  noText(study, "StudyRequest");
  const seriesList = study.children;
  if (seriesList.length === 0) {
    throw new RequestFault(`StudyRequest "${studyUid}" has no SeriesRequest`);
  }
  for (const series of seriesList) {
    expect(series, XDSI_NS, "SeriesRequest", "StudyRequest");
    const seriesUid = attribute(series, "seriesInstanceUID", "SeriesRequest");
    noText(series, "SeriesRequest");
    const docs = series.children;
    if (docs.length === 0) {
      throw new RequestFault(
        `SeriesRequest "${seriesUid}" has no DocumentRequest`,
      );
    }
    for (const doc of docs) {
      expect(doc, XDSB_NS, "DocumentRequest", "SeriesRequest");
      const { documentUniqueId, repositoryUniqueId, homeCommunityId } =
        readDocumentRequest(doc);
      out.push({
        studyUid,
        seriesUid,
        documentUniqueId,
        repositoryUniqueId,
        ...(homeCommunityId !== undefined ? { homeCommunityId } : {}),
      });
    }
  }
}

/** One xds-b DocumentRequest's ids. */
export interface DocumentRequestIds {
  documentUniqueId: string;
  repositoryUniqueId: string;
  homeCommunityId?: string;
}

/**
 * Reads the children of one xds-b DocumentRequest (HomeCommunityId?,
 * RepositoryUniqueId, DocumentUniqueId, in this order): the element of
 * RAD-69, RAD-75, ITI-43 and ITI-39 requests.
 */
export function readDocumentRequest(doc: XmlElement): DocumentRequestIds {
  noText(doc, "DocumentRequest");
  const kids = doc.children;
  let k = 0;
  let homeCommunityId: string | undefined;
  if (kids[k]?.local === "HomeCommunityId") {
    expect(kids[k]!, XDSB_NS, "HomeCommunityId", "DocumentRequest");
    homeCommunityId = leaf(kids[k]!, "HomeCommunityId");
    k++;
  }
  if (!kids[k]) {
    throw new RequestFault("DocumentRequest lacks RepositoryUniqueId");
  }
  expect(kids[k]!, XDSB_NS, "RepositoryUniqueId", "DocumentRequest");
  const repositoryUniqueId = leaf(kids[k]!, "RepositoryUniqueId");
  k++;
  if (!kids[k]) {
    throw new RequestFault("DocumentRequest lacks DocumentUniqueId");
  }
  expect(kids[k]!, XDSB_NS, "DocumentUniqueId", "DocumentRequest");
  const documentUniqueId = leaf(kids[k]!, "DocumentUniqueId");
  k++;
  if (k < kids.length) {
    throw new RequestFault(
      `Unexpected {${kids[k]!.ns}}${kids[k]!.local} in DocumentRequest`,
    );
  }
  return {
    documentUniqueId,
    repositoryUniqueId,
    ...(homeCommunityId !== undefined ? { homeCommunityId } : {}),
  };
}

/** Reads an ITI-43/ITI-39 RetrieveDocumentSetRequest (no study, series). */
function readDocumentSet(
  request: XmlElement,
  partial: Partial<ParsedRequest>,
): ParsedDocument[] {
  expect(request, XDSB_NS, "RetrieveDocumentSetRequest", "soap:Body");
  noText(request, "RetrieveDocumentSetRequest");
  const documents: ParsedDocument[] = [];
  partial.documents = documents;
  partial.transferSyntaxes = [];
  for (const doc of request.children) {
    expect(doc, XDSB_NS, "DocumentRequest", "RetrieveDocumentSetRequest");
    documents.push({
      studyUid: "",
      seriesUid: "",
      ...readDocumentRequest(doc),
    });
  }
  if (documents.length === 0) {
    throw new RequestFault("RetrieveDocumentSetRequest has no DocumentRequest");
  }
  return documents;
}
