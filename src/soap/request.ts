/**
 * Builds the RAD-69 `RetrieveImagingDocumentSetRequest` SOAP 1.2 message,
 * as plain `application/soap+xml` or wrapped in an MTOM/XOP package.
 *
 * @module
 */

import { assertUid, type InstanceReference } from "../references.ts";
import {
  assertText,
  buildSoapRequest,
  documentRequestXml,
  type RetrieveRequest,
} from "./envelope.ts";

export type { RetrieveRequest } from "./envelope.ts";

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
 * The `wsa:Action` of a RAD-75 Cross Gateway Retrieve Imaging Document Set
 * request: the same body as RAD-69, sent to a Responding Imaging Gateway of
 * another community, every DocumentRequest carrying its HomeCommunityId.
 */
export const RAD75_ACTION =
  "urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSet";

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
 * What `transferSyntaxes: ["*"]` (CLI `--transfer-syntax '*'`) sends: every
 * standard transfer syntax a stored instance can have, so that a server
 * that keeps the stored encoding when it is listed (dcm4chee-arc does;
 * the list's order is not used) sends each instance as stored, untranscoded.
 * JPIP (`1.2.840.10008.1.2.4.94`/`.95`) is left out: it replaces the pixel
 * data by a URL. A server that cannot provide an instance in any requested
 * syntax answers `urn:dicom:wado:0007` (dcm4chee-arc) or
 * `XDSRepositoryError` (the NIST simulator); that code is in the error.
 */
export const AS_STORED_TRANSFER_SYNTAXES: readonly string[] = Object.freeze([
  "1.2.840.10008.1.2.1",
  "1.2.840.10008.1.2",
  "1.2.840.10008.1.2.1.99",
  "1.2.840.10008.1.2.2",
  "1.2.840.10008.1.2.1.98",
  "1.2.840.10008.1.2.4.50",
  "1.2.840.10008.1.2.4.51",
  "1.2.840.10008.1.2.4.57",
  "1.2.840.10008.1.2.4.70",
  "1.2.840.10008.1.2.4.80",
  "1.2.840.10008.1.2.4.81",
  "1.2.840.10008.1.2.4.90",
  "1.2.840.10008.1.2.4.91",
  "1.2.840.10008.1.2.4.92",
  "1.2.840.10008.1.2.4.93",
  "1.2.840.10008.1.2.4.100",
  "1.2.840.10008.1.2.4.100.1",
  "1.2.840.10008.1.2.4.101",
  "1.2.840.10008.1.2.4.101.1",
  "1.2.840.10008.1.2.4.102",
  "1.2.840.10008.1.2.4.102.1",
  "1.2.840.10008.1.2.4.103",
  "1.2.840.10008.1.2.4.103.1",
  "1.2.840.10008.1.2.4.104",
  "1.2.840.10008.1.2.4.104.1",
  "1.2.840.10008.1.2.4.105",
  "1.2.840.10008.1.2.4.105.1",
  "1.2.840.10008.1.2.4.106",
  "1.2.840.10008.1.2.4.106.1",
  "1.2.840.10008.1.2.4.107",
  "1.2.840.10008.1.2.4.108",
  "1.2.840.10008.1.2.4.110",
  "1.2.840.10008.1.2.4.111",
  "1.2.840.10008.1.2.4.112",
  "1.2.840.10008.1.2.4.201",
  "1.2.840.10008.1.2.4.202",
  "1.2.840.10008.1.2.4.203",
  "1.2.840.10008.1.2.5",
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

const IHERAD_NS = "urn:ihe:rad:xdsi-b:2009";
const XDSB_NS = "urn:ihe:iti:xds-b:2007";

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
   * order. Must not be empty. `["*"]` asks for every instance as stored
   * ({@linkcode AS_STORED_TRANSFER_SYNTAXES}).
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
   * `true` to send RAD-75 (Cross Gateway Retrieve Imaging Document Set,
   * {@linkcode RAD75_ACTION}) instead of RAD-69: the same body, addressed to
   * a Responding Imaging Gateway; every DocumentRequest must then carry a
   * HomeCommunityId.
   *
   * @default {false}
   */
  crossGateway?: boolean;
  /**
   * A `<wsse:Security>` element (an XUA SAML assertion), inserted into the
   * SOAP Header byte for byte: it is checked to be one well-formed
   * WS-Security element, never re-serialised.
   *
   * @default {undefined} (no security header)
   */
  securityHeader?: string;
  /**
   * The `wsa:MessageID`. Meant for tests.
   *
   * @default {`urn:uuid:${crypto.randomUUID()}`}
   */
  messageId?: string;
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
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot build RAD-69 request: options are required");
  }
  const crossGateway = options.crossGateway ?? false;
  const what = crossGateway ? "RAD-75 request" : "RAD-69 request";
  const studies = groupDocumentRequests(refs, options, what);
  const given = options.transferSyntaxes ?? DEFAULT_TRANSFER_SYNTAXES;
  const syntaxes = Array.isArray(given) && given.length === 1 &&
      given[0] === "*"
    ? AS_STORED_TRANSFER_SYNTAXES
    : given;
  if (!Array.isArray(syntaxes) || syntaxes.length === 0) {
    throw new TypeError(
      `Cannot build ${what}: transferSyntaxes must list at least one transfer syntax UID`,
    );
  }
  syntaxes.forEach((ts, i) => assertUid(ts, `options.transferSyntaxes[${i}]`));
  return buildSoapRequest({
    action: crossGateway ? RAD75_ACTION : RAD69_ACTION,
    url: options.url,
    body: retrieveBody(studies, syntaxes, what),
    what,
    messageId: options.messageId,
    addressingMustUnderstand: options.addressingMustUnderstand,
    securityHeader: options.securityHeader,
    mtom: options.mtom,
  });
}

/** DocumentRequests by study, then series, in first-seen order. */
type StudyRequests = Map<string, Map<string, DocumentRequestEntry[]>>;

/**
 * Validates every reference and groups the DocumentRequests by study and
 * series, enforcing the all-or-none HomeCommunityId rule (and, for RAD-75,
 * "all").
 */
function groupDocumentRequests(
  refs: readonly InstanceReference[],
  options: BuildRetrieveRequestOptions,
  what: string,
): StudyRequests {
  if (!Array.isArray(refs)) {
    throw new TypeError(
      `Cannot build ${what}: expected an array of instance references, got ${typeof refs}`,
    );
  }
  if (refs.length === 0) {
    throw new TypeError(`Cannot build ${what}: no instance references given`);
  }
  const defaultRepository = options.repositoryUniqueId ??
    DEFAULT_REPOSITORY_UNIQUE_ID;
  assertUid(defaultRepository, "options.repositoryUniqueId");
  const defaultCommunity = options.homeCommunityId;
  if (defaultCommunity !== undefined) {
    assertText(defaultCommunity, "options.homeCommunityId");
  }
  const studies: StudyRequests = new Map();
  let withCommunity: number | undefined;
  let withoutCommunity: number | undefined;
  refs.forEach((ref, i) => {
    const where = `refs[${i}]`;
    if (ref === null || typeof ref !== "object") {
      throw new TypeError(
        `Cannot build ${what}: ${where} is not an instance reference`,
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
  if (withoutCommunity !== undefined && options.crossGateway) {
    throw new TypeError(
      `Cannot build ${what}: refs[${withoutCommunity}] (instance "${
        refs[withoutCommunity]!.instanceUid
      }") has no homeCommunityId; a cross-gateway retrieve needs one on every DocumentRequest`,
    );
  }
  if (withCommunity !== undefined && withoutCommunity !== undefined) {
    const missing = refs[withoutCommunity]!;
    throw new TypeError(
      `Cannot build ${what}: refs[${withoutCommunity}] (instance "${missing.instanceUid}") has no homeCommunityId while refs[${withCommunity}] has one; ITI-43 requires every DocumentRequest or none to carry one`,
    );
  }
  return studies;
}

/** The `RetrieveImagingDocumentSetRequest` element. */
function retrieveBody(
  studies: StudyRequests,
  syntaxes: readonly string[],
  what: string,
): string {
  const parts: string[] = [
    `<iherad:RetrieveImagingDocumentSetRequest xmlns:iherad="${IHERAD_NS}" xmlns:xdsb="${XDSB_NS}">`,
  ];
  // UIDs were validated: digits and dots only, nothing to escape.
  for (const [studyUid, series] of studies) {
    parts.push(`<iherad:StudyRequest studyInstanceUID="${studyUid}">`);
    for (const [seriesUid, docs] of series) {
      parts.push(`<iherad:SeriesRequest seriesInstanceUID="${seriesUid}">`);
      for (const doc of docs) {
        parts.push(documentRequestXml(
          { ...doc, documentUniqueId: doc.instanceUid },
          "homeCommunityId",
          what,
        ));
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
  );
  return parts.join("");
}
