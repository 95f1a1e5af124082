/**
 * Builds the RAD-69 `RetrieveImagingDocumentSetRequest` SOAP 1.2 message,
 * as plain `application/soap+xml` or wrapped in an MTOM/XOP package.
 *
 * @module
 */

import { assertUid, type InstanceReference } from "../references.ts";
import { InvalidUidError } from "../errors.ts";

/**
 * The `wsa:Action` (and SOAP 1.2 `action`) of a RAD-69 request.
 *
 * @example Route a request in a proxy or a test server
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRetrieveRequest, RAD69_ACTION } from "@rad69/client";
 *
 * const request = buildRetrieveRequest(
 *   [{ studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" }],
 *   { url: "http://127.0.0.1:8080/rad69" },
 * );
 * assert.ok(request.xml.includes(`>${RAD69_ACTION}</`));
 * ```
 */
export const RAD69_ACTION = "urn:ihe:rad:2009:RetrieveImagingDocumentSet";

/**
 * The transfer syntaxes requested when none are given, in this order:
 * JPEG Lossless SV1 (`1.2.840.10008.1.2.4.70`), Implicit VR Little Endian
 * (`1.2.840.10008.1.2`) and Explicit VR Little Endian
 * (`1.2.840.10008.1.2.1`). This is the list dicomtrolley sends, so servers
 * that work with it work with this client.
 *
 * @example Prefer uncompressed data, keep the rest
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TRANSFER_SYNTAXES, Rad69Client } from "@rad69/client";
 *
 * const explicitLe = "1.2.840.10008.1.2.1";
 * const transferSyntaxes = [
 *   explicitLe,
 *   ...DEFAULT_TRANSFER_SYNTAXES.filter((uid) => uid !== explicitLe),
 * ];
 * assert.equal(transferSyntaxes.length, 3);
 * new Rad69Client({ url: "http://127.0.0.1:8080/rad69", transferSyntaxes });
 * ```
 */
export const DEFAULT_TRANSFER_SYNTAXES: readonly string[] = Object.freeze([
  "1.2.840.10008.1.2.4.70",
  "1.2.840.10008.1.2",
  "1.2.840.10008.1.2.1",
]);

/**
 * The RepositoryUniqueId sent when neither the options nor the instance
 * give one: `1.3.6.1.4.1000`, the value dicomtrolley hard-codes (it echoes
 * the placeholder of the DICOM PS3.18 Annex E example). Servers that do not
 * check the id (dcm4chee-arc echoes whatever it receives, Canon/Vitrea
 * accepts it) work with it; a server that checks it (the NIST simulator,
 * dcm4chee 2.x) answers `XDSUnknownRepositoryId` and needs the real id, set
 * with `repositoryUniqueId`.
 *
 * @example The id a request carries by default
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRetrieveRequest } from "@rad69/client";
 * import { DEFAULT_REPOSITORY_UNIQUE_ID } from "./request.ts";
 *
 * const request = buildRetrieveRequest(
 *   [{ studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" }],
 *   { url: "http://127.0.0.1:8080/rad69" },
 * );
 * assert.ok(request.xml.includes(`>${DEFAULT_REPOSITORY_UNIQUE_ID}</`));
 * ```
 */
export const DEFAULT_REPOSITORY_UNIQUE_ID = "1.3.6.1.4.1000";

const SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope";
const WSA_NS = "http://www.w3.org/2005/08/addressing";
const IHERAD_NS = "urn:ihe:rad:xdsi-b:2009";
const XDSB_NS = "urn:ihe:iti:xds-b:2007";
const WSA_ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous";

/** Characters XML 1.0 cannot carry at all, not even escaped. */
// deno-lint-ignore no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/**
 * Options of {@linkcode buildRetrieveRequest}.
 *
 * @example Ask through an Initiating Imaging Gateway
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   buildRetrieveRequest,
 *   type BuildRetrieveRequestOptions,
 * } from "@rad69/client";
 *
 * const options: BuildRetrieveRequestOptions = {
 *   url: "https://gateway.example/rad69",
 *   homeCommunityId: "urn:oid:1.2.3",
 *   transferSyntaxes: ["1.2.840.10008.1.2.1"],
 *   messageId: "urn:uuid:00000000-0000-4000-8000-000000000001",
 * };
 * const request = buildRetrieveRequest(
 *   [{ studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.4.5" }],
 *   options,
 * );
 * assert.equal(request.messageId, options.messageId);
 * assert.ok(request.xml.includes(">urn:oid:1.2.3</"));
 * ```
 */
export interface BuildRetrieveRequestOptions {
  /** The endpoint URL the request is sent to, sent as `wsa:To`. */
  url: string;
  /**
   * The RepositoryUniqueId of every DocumentRequest whose instance does not
   * give its own.
   *
   * @default {"1.3.6.1.4.1000"} ({@linkcode DEFAULT_REPOSITORY_UNIQUE_ID})
   */
  repositoryUniqueId?: string;
  /**
   * The HomeCommunityId (e.g. `urn:oid:1.2.3`) of every DocumentRequest
   * whose instance does not give its own. Needed when talking to an
   * Initiating Imaging Gateway. Either every DocumentRequest ends up with
   * one or none does (ITI-43).
   *
   * @default {undefined} (no HomeCommunityId)
   */
  homeCommunityId?: string;
  /**
   * The transfer syntaxes the caller accepts, in `TransferSyntaxUIDList`
   * order. Must not be empty.
   *
   * @default {DEFAULT_TRANSFER_SYNTAXES}
   */
  transferSyntaxes?: readonly string[];
  /**
   * `true` to send an MTOM/XOP `multipart/related` package (what strict IHE
   * partners expect), `false` for plain `application/soap+xml`.
   *
   * @default {false}
   */
  mtom?: boolean;
  /**
   * `true` to mark `wsa:Action` and `wsa:To` `soap:mustUnderstand="1"`, as
   * DICOM PS3.18 and the IHE WSDLs expect. `false` sends the same
   * WS-Addressing headers without the attribute, for servers that do not
   * process WS-Addressing and therefore answer every request with a SOAP
   * `MustUnderstand` Fault ("One or more mandatory SOAP header blocks not
   * understood"): a JAX-WS RI (Metro) endpoint published without its
   * `AddressingFeature`, and older or minimal IHE actors. Such servers route
   * on the `action` parameter of the Content-Type, which is always sent.
   *
   * @default {true}
   */
  addressingMustUnderstand?: boolean;
  /**
   * The `wsa:MessageID`. Meant for tests.
   *
   * @default {`urn:uuid:${crypto.randomUUID()}`}
   */
  messageId?: string;
}

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

/** Escapes a value for XML text or a double- or single-quoted attribute. */
function escapeXml(value: string, where: string): string {
  if (NOT_XML_CHAR.test(value)) {
    throw new TypeError(
      `Cannot build RAD-69 request: ${where} holds a character XML cannot carry`,
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

/** Checks a free-text value (HomeCommunityId, MessageID) is a non-empty string. */
function assertText(value: unknown, where: string): asserts value is string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new InvalidUidError(
      String(value),
      where,
      "is not a non-empty string",
    );
  }
}

/** One DocumentRequest, resolved. */
interface DocumentRequestEntry {
  readonly instanceUid: string;
  readonly repositoryUniqueId: string;
  readonly homeCommunityId: string | undefined;
}

/**
 * Builds a RAD-69 `RetrieveImagingDocumentSetRequest`: one SOAP 1.2
 * envelope with WS-Addressing headers (`wsa:Action` and `wsa:To` with
 * `mustUnderstand="1"` unless `addressingMustUnderstand` is `false`,
 * `wsa:MessageID`, anonymous `wsa:ReplyTo`) and a
 * single request element in the Body holding one `StudyRequest` per study,
 * one `SeriesRequest` per series (both in first-seen order) and one
 * `DocumentRequest` per instance, followed by the `TransferSyntaxUIDList`.
 * Every UID is validated first; every value is XML-escaped.
 *
 * @param refs The instances to retrieve (at least one). They are emitted as
 * given: duplicates are not removed (use `toInstanceRefs` for that).
 * @param options The endpoint URL, repository and community ids, transfer
 * syntaxes, and whether to package the request as MTOM.
 * @returns The body, its Content-Type and the MessageID.
 * @throws {InvalidUidError} When a UID (instance, repository, transfer
 * syntax) does not follow the DICOM UID syntax, or a HomeCommunityId or
 * MessageID is empty; `where` names it, e.g. `refs[3].seriesUid`.
 * @throws {TypeError} When `refs` or `transferSyntaxes` is empty, the URL
 * cannot be parsed, or only some DocumentRequests would carry a
 * HomeCommunityId.
 *
 * @example Build a plain SOAP 1.2 request
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRetrieveRequest } from "@rad69/client";
 *
 * const request = buildRetrieveRequest(
 *   [{ studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.4.5" }],
 *   { url: "https://pacs.example/xdsi/ImagingDocumentSource" },
 * );
 * assert.ok(request.contentType.startsWith("application/soap+xml"));
 * assert.ok(request.xml.includes('studyInstanceUID="1.2.3"'));
 * assert.match(request.messageId, /^urn:uuid:/);
 * ```
 *
 * @example Build an MTOM request for one repository
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRetrieveRequest } from "@rad69/client";
 *
 * const request = buildRetrieveRequest(
 *   [{ studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.4.5" }],
 *   {
 *     url: "https://pacs.example/xdsi/ImagingDocumentSource",
 *     repositoryUniqueId: "1.2.840.99.1",
 *     mtom: true,
 *   },
 * );
 * assert.ok(request.contentType.startsWith("multipart/related"));
 * assert.ok(request.xml.includes(">1.2.840.99.1</"));
 * ```
 *
 * @example Talk to a server that does not process WS-Addressing
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRetrieveRequest } from "@rad69/client";
 *
 * const request = buildRetrieveRequest(
 *   [{ studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.4.5" }],
 *   { url: "http://legacy.example/rad69", addressingMustUnderstand: false },
 * );
 * assert.ok(request.xml.includes("<wsa:Action>"));
 * assert.ok(!request.xml.includes("mustUnderstand"));
 * ```
 */
export function buildRetrieveRequest(
  refs: readonly InstanceReference[],
  options: BuildRetrieveRequestOptions,
): RetrieveRequest {
  if (!Array.isArray(refs)) {
    throw new TypeError(
      `Cannot build RAD-69 request: expected an array of instance references, got ${typeof refs}`,
    );
  }
  if (refs.length === 0) {
    throw new TypeError(
      "Cannot build RAD-69 request: no instance references given",
    );
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot build RAD-69 request: options are required");
  }
  const url = options.url;
  if (typeof url !== "string" || !URL.canParse(url)) {
    throw new TypeError(
      `Cannot build RAD-69 request: invalid url "${String(url)}"`,
    );
  }
  const defaultRepository = options.repositoryUniqueId ??
    DEFAULT_REPOSITORY_UNIQUE_ID;
  assertUid(defaultRepository, "options.repositoryUniqueId");
  const defaultCommunity = options.homeCommunityId;
  if (defaultCommunity !== undefined) {
    assertText(defaultCommunity, "options.homeCommunityId");
  }
  const syntaxes = options.transferSyntaxes ?? DEFAULT_TRANSFER_SYNTAXES;
  if (!Array.isArray(syntaxes) || syntaxes.length === 0) {
    throw new TypeError(
      "Cannot build RAD-69 request: transferSyntaxes must list at least one transfer syntax UID",
    );
  }
  syntaxes.forEach((ts, i) => assertUid(ts, `options.transferSyntaxes[${i}]`));
  const messageId = options.messageId ?? `urn:uuid:${crypto.randomUUID()}`;
  assertText(messageId, "options.messageId");
  const mustUnderstand = options.addressingMustUnderstand ?? true;
  if (typeof mustUnderstand !== "boolean") {
    throw new TypeError(
      `Cannot build RAD-69 request: addressingMustUnderstand must be a boolean, got ${typeof mustUnderstand}`,
    );
  }
  const mu = mustUnderstand ? ` soap:mustUnderstand="1"` : "";

  // Group by study, then series, in first-seen order.
  const studies = new Map<string, Map<string, DocumentRequestEntry[]>>();
  let withCommunity: number | undefined;
  let withoutCommunity: number | undefined;
  refs.forEach((ref, i) => {
    const where = `refs[${i}]`;
    if (ref === null || typeof ref !== "object") {
      throw new TypeError(
        `Cannot build RAD-69 request: ${where} is not an instance reference`,
      );
    }
    assertUid(ref.studyUid, `${where}.studyUid`);
    assertUid(ref.seriesUid, `${where}.seriesUid`);
    assertUid(ref.instanceUid, `${where}.instanceUid`);
    const repositoryUniqueId = ref.repositoryUniqueId ?? defaultRepository;
    assertUid(repositoryUniqueId, `${where}.repositoryUniqueId`);
    const homeCommunityId = ref.homeCommunityId ?? defaultCommunity;
    if (homeCommunityId === undefined) {
      withoutCommunity ??= i;
    } else {
      assertText(homeCommunityId, `${where}.homeCommunityId`);
      withCommunity ??= i;
    }
    let series = studies.get(ref.studyUid);
    if (!series) studies.set(ref.studyUid, series = new Map());
    let docs = series.get(ref.seriesUid);
    if (!docs) series.set(ref.seriesUid, docs = []);
    docs.push({
      instanceUid: ref.instanceUid,
      repositoryUniqueId,
      homeCommunityId,
    });
  });
  if (withCommunity !== undefined && withoutCommunity !== undefined) {
    const missing = refs[withoutCommunity]!;
    throw new TypeError(
      `Cannot build RAD-69 request: refs[${withoutCommunity}] (instance "${missing.instanceUid}") has no homeCommunityId while refs[${withCommunity}] has one; ITI-43 requires every DocumentRequest or none to carry one`,
    );
  }

  const parts: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<soap:Envelope xmlns:soap="${SOAP12_NS}" xmlns:wsa="${WSA_NS}">`,
    `<soap:Header>`,
    `<wsa:Action${mu}>${RAD69_ACTION}</wsa:Action>`,
    `<wsa:MessageID>${
      escapeXml(messageId, "options.messageId")
    }</wsa:MessageID>`,
    `<wsa:ReplyTo><wsa:Address>${WSA_ANONYMOUS}</wsa:Address></wsa:ReplyTo>`,
    `<wsa:To${mu}>${escapeXml(url, "options.url")}</wsa:To>`,
    `</soap:Header>`,
    `<soap:Body>`,
    `<iherad:RetrieveImagingDocumentSetRequest xmlns:iherad="${IHERAD_NS}" xmlns:xdsb="${XDSB_NS}">`,
  ];
  // UIDs were validated above: digits and dots only, nothing to escape.
  for (const [studyUid, series] of studies) {
    parts.push(`<iherad:StudyRequest studyInstanceUID="${studyUid}">`);
    for (const [seriesUid, docs] of series) {
      parts.push(`<iherad:SeriesRequest seriesInstanceUID="${seriesUid}">`);
      for (const doc of docs) {
        parts.push("<xdsb:DocumentRequest>");
        if (doc.homeCommunityId !== undefined) {
          parts.push(
            `<xdsb:HomeCommunityId>${
              escapeXml(doc.homeCommunityId, "homeCommunityId")
            }</xdsb:HomeCommunityId>`,
          );
        }
        parts.push(
          `<xdsb:RepositoryUniqueId>${doc.repositoryUniqueId}</xdsb:RepositoryUniqueId>`,
          `<xdsb:DocumentUniqueId>${doc.instanceUid}</xdsb:DocumentUniqueId>`,
          "</xdsb:DocumentRequest>",
        );
      }
      parts.push("</iherad:SeriesRequest>");
    }
    parts.push("</iherad:StudyRequest>");
  }
  parts.push("<iherad:TransferSyntaxUIDList>");
  for (const ts of syntaxes) {
    parts.push(`<iherad:TransferSyntaxUID>${ts}</iherad:TransferSyntaxUID>`);
  }
  parts.push(
    "</iherad:TransferSyntaxUIDList>",
    "</iherad:RetrieveImagingDocumentSetRequest>",
    "</soap:Body>",
    "</soap:Envelope>",
  );
  const xml = parts.join("");
  const encoder = new TextEncoder();

  if (!options.mtom) {
    return {
      body: encoder.encode(xml),
      contentType:
        `application/soap+xml; charset=UTF-8; action="${RAD69_ACTION}"`,
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
      `multipart/related; type="application/xop+xml"; boundary="${boundary}"; start="<${rootId}>"; start-info="application/soap+xml"; action="${RAD69_ACTION}"`,
    messageId,
    xml,
  };
}
