/**
 * Parses the SOAP root part of a RAD-69 answer: the ITI-43
 * `RetrieveDocumentSetResponse` (status, RegistryErrors, DocumentResponses)
 * or a SOAP Fault.
 *
 * The XML is read by a small, strict, namespace-aware, non-validating
 * parser: it resolves prefixes through `xmlns` declarations, decodes only
 * the five predefined entities and character references, and rejects any
 * `<!DOCTYPE` (SOAP forbids DTDs), so no entity is ever expanded.
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

const SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
const SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/";
const XDSB_NS = "urn:ihe:iti:xds-b:2007";
const RS_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
const XOP_NS = "http://www.w3.org/2004/08/xop/include";
const XML_NS = "http://www.w3.org/XML/1998/namespace";

/** The default `@severity` of a RegistryError. */
const SEVERITY_ERROR =
  "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";

/** How many characters of the content go into an error's `excerpt`. */
const EXCERPT_LENGTH = 300;

/** Deepest element nesting accepted. */
const MAX_DEPTH = 512;

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

/** An element of the parsed tree. */
interface XmlElement {
  /** Namespace URI, "" for none. */
  readonly ns: string;
  /** Local name. */
  readonly local: string;
  /** Qualified name as written. */
  readonly name: string;
  /** Unprefixed attributes by name; prefixed ones as `{ns}local`. */
  readonly attrs: Record<string, string>;
  /** Child elements, in document order. */
  readonly children: XmlElement[];
  /** Concatenated character data of the direct children (text and CDATA). */
  text: string;
}

/** A namespace scope: prefix ("" = default) to URI, inheriting by prototype. */
type NsScope = Record<string, string>;

const NAME = "[A-Za-z_\\u00C0-\\uFFFF][-A-Za-z0-9_.\\u00B7\\u00C0-\\uFFFF]*";
const QNAME = `${NAME}(?::${NAME})?`;
const QNAME_RE = new RegExp(QNAME, "y");
const ATTR_RE = new RegExp(
  `[ \\t\\r\\n]+(${QNAME})[ \\t\\r\\n]*=[ \\t\\r\\n]*(?:"([^"<]*)"|'([^'<]*)')`,
  "y",
);
const TAG_END_RE = /[ \t\r\n]*(\/?)>/y;
const END_TAG_TAIL_RE = /[ \t\r\n]*>/y;
const WHITESPACE_ONLY = /^[ \t\r\n]*$/;
const REFERENCE_RE =
  /&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z_:][-A-Za-z0-9_.:]*)?(;)?/g;
const PREDEFINED: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Makes the error every XML problem is reported with. */
function xmlError(text: string, detail: string, offset: number): Error {
  return new Rad69ProtocolError(
    `Cannot parse SOAP response: ${detail} (at character ${offset})`,
    { excerpt: text.slice(0, EXCERPT_LENGTH) },
  );
}

/** Decodes the predefined entities and character references of a value. */
function decodeReferences(
  value: string,
  text: string,
  offset: number,
): string {
  if (value.indexOf("&") === -1) return value;
  return value.replace(
    REFERENCE_RE,
    (whole, ref: string | undefined, semi: string | undefined) => {
      if (ref === undefined || semi === undefined) {
        throw xmlError(text, `stray "&" in "${whole}"`, offset);
      }
      if (ref.charCodeAt(0) === 0x23 /* # */) {
        const code = ref.charCodeAt(1) === 0x78 /* x */
          ? parseInt(ref.slice(2), 16)
          : parseInt(ref.slice(1), 10);
        const ok = code === 0x9 || code === 0xa || code === 0xd ||
          (code >= 0x20 && code <= 0xd7ff) ||
          (code >= 0xe000 && code <= 0xfffd) ||
          (code >= 0x10000 && code <= 0x10ffff);
        if (!ok) {
          throw xmlError(
            text,
            `invalid character reference "&${ref};"`,
            offset,
          );
        }
        return String.fromCodePoint(code);
      }
      const decoded = PREDEFINED[ref];
      if (decoded === undefined) {
        throw xmlError(
          text,
          `undefined entity "&${ref};" (entities are not expanded)`,
          offset,
        );
      }
      return decoded;
    },
  );
}

/** Splits a qualified name into prefix ("" for none) and local name. */
function splitName(qname: string): [string, string] {
  const colon = qname.indexOf(":");
  return colon === -1
    ? ["", qname]
    : [qname.slice(0, colon), qname.slice(colon + 1)];
}

/** Parses a whole document into its root element. */
function parseXml(text: string): XmlElement {
  const length = text.length;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const base: NsScope = Object.create(null);
  base[""] = "";
  base["xml"] = XML_NS;
  const stack: XmlElement[] = [];
  const scopes: NsScope[] = [base];
  let root: XmlElement | undefined;

  while (pos < length) {
    const lt = text.indexOf("<", pos);
    const end = lt === -1 ? length : lt;
    if (end > pos) {
      const raw = text.slice(pos, end);
      const top = stack[stack.length - 1];
      if (top) {
        top.text += decodeReferences(raw, text, pos);
      } else if (!WHITESPACE_ONLY.test(raw)) {
        throw xmlError(text, "text outside the root element", pos);
      }
    }
    if (lt === -1) break;
    const next = text.charCodeAt(lt + 1);

    if (next === 0x2f /* / */) {
      QNAME_RE.lastIndex = lt + 2;
      const match = QNAME_RE.exec(text);
      const top = stack[stack.length - 1];
      if (!match || !top || match[0] !== top.name) {
        throw xmlError(
          text,
          top ? `expected "</${top.name}>"` : "end tag without a start tag",
          lt,
        );
      }
      END_TAG_TAIL_RE.lastIndex = QNAME_RE.lastIndex;
      if (!END_TAG_TAIL_RE.test(text)) {
        throw xmlError(text, `malformed end tag "</${top.name}"`, lt);
      }
      stack.pop();
      scopes.pop();
      pos = END_TAG_TAIL_RE.lastIndex;
      continue;
    }

    if (next === 0x3f /* ? */) {
      const close = text.indexOf("?>", lt + 2);
      if (close === -1) {
        throw xmlError(text, "unterminated processing instruction", lt);
      }
      pos = close + 2;
      continue;
    }

    if (next === 0x21 /* ! */) {
      if (text.startsWith("<!--", lt)) {
        const close = text.indexOf("-->", lt + 4);
        if (close === -1) throw xmlError(text, "unterminated comment", lt);
        pos = close + 3;
        continue;
      }
      if (text.startsWith("<![CDATA[", lt)) {
        const close = text.indexOf("]]>", lt + 9);
        const top = stack[stack.length - 1];
        if (close === -1) {
          throw xmlError(text, "unterminated CDATA section", lt);
        }
        if (!top) throw xmlError(text, "CDATA outside the root element", lt);
        top.text += text.slice(lt + 9, close);
        pos = close + 3;
        continue;
      }
      if (text.startsWith("<!DOCTYPE", lt)) {
        throw xmlError(
          text,
          "a DOCTYPE is not allowed in a SOAP message (DTDs and entities are not processed)",
          lt,
        );
      }
      throw xmlError(text, "unexpected markup declaration", lt);
    }

    // Start tag.
    QNAME_RE.lastIndex = lt + 1;
    const nameMatch = QNAME_RE.exec(text);
    if (!nameMatch) throw xmlError(text, 'invalid element name after "<"', lt);
    const name = nameMatch[0];
    let cursor = QNAME_RE.lastIndex;
    const rawAttrs: [string, string][] = [];
    let scope = scopes[scopes.length - 1]!;
    let ownScope = false;
    for (;;) {
      ATTR_RE.lastIndex = cursor;
      const attr = ATTR_RE.exec(text);
      if (!attr) break;
      cursor = ATTR_RE.lastIndex;
      const attrName = attr[1]!;
      const value = decodeReferences(
        (attr[2] ?? attr[3]!).replace(/[\t\n\r]/g, " "),
        text,
        cursor,
      );
      if (attrName === "xmlns" || attrName.startsWith("xmlns:")) {
        if (!ownScope) {
          scope = Object.create(scope);
          ownScope = true;
        }
        const prefix = attrName === "xmlns" ? "" : attrName.slice(6);
        if (prefix !== "" && value === "") {
          throw xmlError(text, `empty namespace for prefix "${prefix}"`, lt);
        }
        scope[prefix] = value;
      } else {
        rawAttrs.push([attrName, value]);
      }
    }
    TAG_END_RE.lastIndex = cursor;
    const tagEnd = TAG_END_RE.exec(text);
    if (!tagEnd) throw xmlError(text, `malformed start tag "<${name}"`, lt);
    pos = TAG_END_RE.lastIndex;

    const [prefix, local] = splitName(name);
    const ns = scope[prefix];
    if (ns === undefined) {
      throw xmlError(text, `undeclared namespace prefix "${prefix}"`, lt);
    }
    const attrs: Record<string, string> = Object.create(null);
    for (const [attrName, value] of rawAttrs) {
      const [attrPrefix, attrLocal] = splitName(attrName);
      let key = attrLocal;
      if (attrPrefix !== "") {
        const attrNs = scope[attrPrefix];
        if (attrNs === undefined) {
          throw xmlError(
            text,
            `undeclared namespace prefix "${attrPrefix}"`,
            lt,
          );
        }
        key = `{${attrNs}}${attrLocal}`;
      }
      if (key in attrs) {
        throw xmlError(text, `duplicate attribute "${attrName}"`, lt);
      }
      attrs[key] = value;
    }
    const element: XmlElement = {
      ns,
      local,
      name,
      attrs,
      children: [],
      text: "",
    };
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.children.push(element);
    } else if (root) {
      throw xmlError(text, "more than one root element", lt);
    } else {
      root = element;
    }
    if (tagEnd[1] !== "/") {
      if (stack.length >= MAX_DEPTH) {
        throw xmlError(text, `elements nested deeper than ${MAX_DEPTH}`, lt);
      }
      stack.push(element);
      scopes.push(scope);
    }
  }
  const open = stack[stack.length - 1];
  if (open) throw xmlError(text, `unclosed element "<${open.name}>"`, length);
  if (!root) throw xmlError(text, "no root element", length);
  return root;
}

/** The first child with this namespace and local name. */
function child(
  element: XmlElement,
  ns: string,
  local: string,
): XmlElement | undefined {
  for (const c of element.children) {
    if (c.local === local && c.ns === ns) return c;
  }
  return undefined;
}

/** The first child with this local name, whatever its namespace. */
function childByLocal(
  element: XmlElement,
  local: string,
): XmlElement | undefined {
  for (const c of element.children) if (c.local === local) return c;
  return undefined;
}

/** The first descendant (document order) that matches, searched iteratively. */
function descendant(
  element: XmlElement,
  test: (e: XmlElement) => boolean,
): XmlElement | undefined {
  const pending: XmlElement[] = [...element.children].reverse();
  while (pending.length > 0) {
    const e = pending.pop()!;
    if (test(e)) return e;
    for (let i = e.children.length - 1; i >= 0; i--) {
      pending.push(e.children[i]!);
    }
  }
  return undefined;
}

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

/** Builds the error for a SOAP 1.2 or 1.1 Fault element. */
function faultError(fault: XmlElement, status: number): SoapFaultError {
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
  return new SoapFaultError(
    `Server returned a SOAP Fault (HTTP ${status}): ${what || "(no code)"}${
      reason === "" ? "" : `: ${reason}`
    }`,
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
    root = parseXml(text);
  } catch {
    return undefined;
  }
  const body = soapBody(root);
  if (typeof body === "string") return undefined;
  const fault = findFault(body);
  return fault ? faultError(fault, httpStatus) : undefined;
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
  const text = toText(xml, true);
  const excerpt = text.slice(0, EXCERPT_LENGTH);
  const root = parseXml(text);
  const body = soapBody(root);
  if (typeof body === "string") {
    throw new Rad69ProtocolError(`Cannot parse SOAP response: ${body}`, {
      excerpt,
    });
  }
  const fault = findFault(body);
  if (fault) throw faultError(fault, options?.httpStatus ?? 200);

  const response = descendant(
    body,
    (e) => e.local === "RetrieveDocumentSetResponse" && e.ns === XDSB_NS,
  );
  if (!response) {
    const first = body.children[0];
    throw new Rad69ProtocolError(
      `Cannot parse SOAP response: the Body holds no xdsb:RetrieveDocumentSetResponse${
        first ? ` (found "${first.name}" in namespace "${first.ns}")` : ""
      }`,
      { excerpt },
    );
  }
  const registry = child(response, RS_NS, "RegistryResponse");
  if (!registry) {
    throw new Rad69ProtocolError(
      "Cannot parse SOAP response: the RetrieveDocumentSetResponse has no rs:RegistryResponse",
      { excerpt },
    );
  }
  const statusUrn = registry.attrs["status"]?.trim() ?? "";
  const status = STATUSES.get(statusUrn);
  if (!status) {
    throw new Rad69ProtocolError(
      statusUrn === ""
        ? "Cannot parse SOAP response: the RegistryResponse has no status"
        : `Cannot parse SOAP response: unknown RegistryResponse status "${statusUrn}"`,
      { excerpt },
    );
  }
  const errors: RegistryError[] = [];
  for (const list of registry.children) {
    if (list.local !== "RegistryErrorList" || list.ns !== RS_NS) continue;
    for (const e of list.children) {
      if (e.local === "RegistryError" && e.ns === RS_NS) {
        errors.push(registryError(e));
      }
    }
  }
  const documents: DocumentResponse[] = [];
  for (const e of response.children) {
    if (e.local === "DocumentResponse" && e.ns === XDSB_NS) {
      documents.push(documentResponse(e, documents.length, text));
    }
  }
  return { status, statusUrn, errors, documents };
}
