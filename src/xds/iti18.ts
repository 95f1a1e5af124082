/**
 * ITI-18 Registry Stored Query (and ITI-38 Cross Gateway Query), the
 * FindDocuments stored query: how a consumer finds a patient's KOS
 * manifests in an XDS registry, or through a responding gateway of another
 * community. The request is an ebRS 3.0 `query:AdhocQueryRequest` in the
 * package's one SOAP envelope; the call goes through the exchange core
 * (transport, limits, Faults, retries, log-ins).
 *
 * @module
 */

import { type ExchangeOptions, resolveExchangeConfig } from "../config.ts";
import { InvalidQueryParameterError } from "../errors.ts";
import { callSoap } from "../exchange/soap_call.ts";
import {
  assertText,
  buildSoapRequest,
  escapeXmlValue,
  type RetrieveRequest,
} from "../soap/envelope.ts";
import {
  type DocumentEntry,
  type FindDocumentsResponse,
  parseFindDocumentsResponse,
} from "./document_entry.ts";
import {
  assertPatientCx,
  encodeCodes,
  padDtm,
  quoteSlotList,
  quoteSlotValue,
  toDtm,
  type XdsCode,
} from "./query_params.ts";

export {
  CLASS_CODE_SCHEME,
  type DocumentEntry,
  type FindDocumentsResponse,
  FORMAT_CODE_SCHEME,
  parseFindDocumentsResponse,
  type ParseFindDocumentsResponseOptions,
  PATIENT_ID_SCHEME,
  TYPE_CODE_SCHEME,
  UNIQUE_ID_SCHEME,
} from "./document_entry.ts";
export { assertPatientCx, type XdsCode } from "./query_params.ts";

/** The `wsa:Action` of an ITI-18 Registry Stored Query. */
export const ITI18_ACTION = "urn:ihe:iti:2007:RegistryStoredQuery";
/** The `wsa:Action` of an ITI-38 Cross Gateway Query. */
export const ITI38_ACTION = "urn:ihe:iti:2007:CrossGatewayQuery";
/** The stored query id of FindDocuments (ITI TF-2a 3.18.4.1.2.4). */
export const FIND_DOCUMENTS_QUERY_ID =
  "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d";
/** The availability status of current documents. */
export const APPROVED_STATUS =
  "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved";
/**
 * The formatCode of a DICOM KOS manifest (XDS-I.b): the Key Object
 * Selection Document SOP Class in the DICOM UID registry scheme.
 */
export const KOS_FORMAT_CODE: XdsCode = Object.freeze({
  code: "1.2.840.10008.5.1.4.1.1.88.59",
  scheme: "1.2.840.10008.2.6.1",
});
/** The mimeType of a KOS manifest. */
export const DICOM_MIME_TYPE = "application/dicom";

const QUERY_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
const RIM_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";

/**
 * The parameters of a FindDocuments query. Values are checked before any
 * request is sent.
 *
 * @example Every KOS manifest of a patient in 2024
 * ```ts
 * import type { FindDocumentsQuery } from "./iti18.ts";
 *
 * const query: FindDocumentsQuery = {
 *   patientId: "PID-1^^^&1.3.6.1.4.1.21367.2005.13.20.1000&ISO",
 *   serviceStartFrom: "2024-01-01",
 *   serviceStartTo: "2025-01-01",
 * };
 * void query;
 * ```
 */
export interface FindDocumentsQuery {
  /** `$XDSDocumentEntryPatientId`: an XDS CX, `ID^^^&OID&ISO`. */
  readonly patientId: string;
  /**
   * `$XDSDocumentEntryFormatCode` (any of them). When absent and `kosOnly`,
   * the KOS format code.
   */
  readonly formatCodes?: readonly XdsCode[];
  /**
   * Keep KOS manifests only: ask for {@linkcode KOS_FORMAT_CODE} (unless
   * `formatCodes` are given) and drop answered entries whose mimeType is
   * not `application/dicom` (FindDocuments has no mimeType parameter; the
   * dropped entries are listed in `excluded`).
   *
   * @default {true}
   */
  readonly kosOnly?: boolean;
  /** `$XDSDocumentEntryServiceStartTimeFrom` (inclusive). */
  readonly serviceStartFrom?: Date | string;
  /** `$XDSDocumentEntryServiceStartTimeTo` (exclusive). */
  readonly serviceStartTo?: Date | string;
  /** `$XDSDocumentEntryClassCode` (any of them). */
  readonly classCodes?: readonly XdsCode[];
  /** `$XDSDocumentEntryTypeCode` (any of them). */
  readonly typeCodes?: readonly XdsCode[];
}

/**
 * Options of {@linkcode buildFindDocumentsRequest}.
 *
 * @example An ITI-38 query to a responding gateway
 * ```ts
 * import type { BuildFindDocumentsRequestOptions } from "./iti18.ts";
 *
 * const options: BuildFindDocumentsRequestOptions = {
 *   url: "https://gateway.example/xca/query",
 *   crossGateway: true,
 *   homeCommunityId: "urn:oid:1.2.3.4",
 * };
 * void options;
 * ```
 */
export interface BuildFindDocumentsRequestOptions {
  /** The endpoint URL (`wsa:To`). */
  readonly url: string;
  /**
   * Send the ITI-38 action instead of ITI-18.
   *
   * @default {false}
   */
  readonly crossGateway?: boolean | undefined;
  /** The AdhocQuery `home` attribute (the community asked). */
  readonly homeCommunityId?: string | undefined;
  /** The `wsa:MessageID`; a fresh `urn:uuid:` when absent. */
  readonly messageId?: string | undefined;
  /**
   * Mark `wsa:Action` and `wsa:To` `mustUnderstand="1"`.
   *
   * @default {true}
   */
  readonly addressingMustUnderstand?: boolean | undefined;
  /** A `<wsse:Security>` element, inserted byte for byte. */
  readonly securityHeader?: string | undefined;
}

/** One slot of the query: its name and its already encoded values. */
type Slot = readonly [name: string, values: readonly string[]];

/** Checks a query and encodes its slots, in the order they are sent. */
function querySlots(query: FindDocumentsQuery): Slot[] {
  if (query === null || typeof query !== "object") {
    throw new InvalidQueryParameterError(
      String(query),
      "query",
      "is not a FindDocuments query object",
    );
  }
  assertPatientCx(query.patientId, "query.patientId");
  const slots: Slot[] = [
    ["$XDSDocumentEntryPatientId", [quoteSlotValue(query.patientId)]],
    ["$XDSDocumentEntryStatus", [quoteSlotList([APPROVED_STATUS])]],
  ];
  const codes = (name: string, list: unknown, where: string) => {
    if (list === undefined) return;
    const encoded = encodeCodes(list, where);
    if (encoded.length > 0) {
      slots.push([name, encoded.map((c) => quoteSlotList([c]))]);
    }
  };
  const kosOnly = query.kosOnly ?? true;
  codes(
    "$XDSDocumentEntryFormatCode",
    query.formatCodes ?? (kosOnly ? [KOS_FORMAT_CODE] : undefined),
    "query.formatCodes",
  );
  codes("$XDSDocumentEntryClassCode", query.classCodes, "query.classCodes");
  codes("$XDSDocumentEntryTypeCode", query.typeCodes, "query.typeCodes");
  const from = query.serviceStartFrom === undefined
    ? undefined
    : toDtm(query.serviceStartFrom, "query.serviceStartFrom");
  const to = query.serviceStartTo === undefined
    ? undefined
    : toDtm(query.serviceStartTo, "query.serviceStartTo");
  if (from !== undefined && to !== undefined && padDtm(from) >= padDtm(to)) {
    throw new InvalidQueryParameterError(
      String(query.serviceStartTo),
      "query.serviceStartTo",
      `is not after serviceStartFrom "${from}" (From is inclusive, To exclusive)`,
    );
  }
  if (from !== undefined) {
    slots.push(["$XDSDocumentEntryServiceStartTimeFrom", [from]]);
  }
  if (to !== undefined) {
    slots.push(["$XDSDocumentEntryServiceStartTimeTo", [to]]);
  }
  return slots;
}

/**
 * Builds an ITI-18 (or, with `crossGateway`, ITI-38) FindDocuments request:
 * a `query:AdhocQueryRequest` asking for LeafClass objects, with the
 * patient id, status Approved and the optional filters as ebRS slots
 * (strings in single quotes, a quote inside doubled; codes as
 * `('code^^scheme')`, ITI TF-2a 3.18.4.1.2.3.4; times as DTM), every value
 * XML-escaped.
 *
 * @param query The query.
 * @param options The URL, the gateway options and the envelope options.
 * @returns The request, ready to be POSTed.
 * @throws {InvalidQueryParameterError} When a query value is malformed.
 * @throws {TypeError} When the URL or the security header is invalid.
 * @throws {InvalidUidError} When `homeCommunityId` or `messageId` is empty.
 *
 * @example Build the query for a patient's KOS manifests
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildFindDocumentsRequest, ITI18_ACTION } from "./iti18.ts";
 *
 * const request = buildFindDocumentsRequest(
 *   { patientId: "PID-1^^^&1.2.3&ISO" },
 *   { url: "https://registry.example/xds/registry" },
 * );
 * assert.ok(request.contentType.includes(`action="${ITI18_ACTION}"`));
 * assert.ok(request.xml.includes("$XDSDocumentEntryFormatCode"));
 * ```
 */
export function buildFindDocumentsRequest(
  query: FindDocumentsQuery,
  options: BuildFindDocumentsRequestOptions,
): RetrieveRequest {
  const crossGateway = options.crossGateway ?? false;
  const what = crossGateway ? "ITI-38 request" : "ITI-18 request";
  const slots = querySlots(query);
  let home = "";
  if (options.homeCommunityId !== undefined) {
    assertText(options.homeCommunityId, "options.homeCommunityId");
    home = ` home="${
      escapeXmlValue(options.homeCommunityId, "options.homeCommunityId", what)
    }"`;
  }
  const body = [
    `<query:AdhocQueryRequest xmlns:query="${QUERY_NS}" xmlns:rim="${RIM_NS}">`,
    `<query:ResponseOption returnType="LeafClass" returnComposedObjects="true"/>`,
    `<rim:AdhocQuery id="${FIND_DOCUMENTS_QUERY_ID}"${home}>`,
    ...slots.map(([name, values]) =>
      `<rim:Slot name="${name}"><rim:ValueList>${
        values.map((v) =>
          `<rim:Value>${escapeXmlValue(v, name, what)}</rim:Value>`
        ).join("")
      }</rim:ValueList></rim:Slot>`
    ),
    `</rim:AdhocQuery>`,
    `</query:AdhocQueryRequest>`,
  ].join("");
  return buildSoapRequest({
    action: crossGateway ? ITI38_ACTION : ITI18_ACTION,
    url: options.url,
    body,
    what,
    messageId: options.messageId,
    addressingMustUnderstand: options.addressingMustUnderstand,
    securityHeader: options.securityHeader,
  });
}

/**
 * What {@linkcode findDocuments} found.
 *
 * @example Tell kept entries from dropped ones
 * ```ts
 * import assert from "node:assert/strict";
 * import { findDocuments, type FindDocumentsResult } from "./iti18.ts";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 *
 * await using registry = await FakeXdsRegistry.start();
 * registry.addDocument({
 *   patientId: "P1^^^&1.2.3&ISO",
 *   uniqueId: "1.2.3.4.101",
 *   repositoryUniqueId: "1.2.3.4.5",
 *   mimeType: "application/pdf", // a KOS format code, but not DICOM
 * });
 * const result: FindDocumentsResult = await findDocuments(
 *   { patientId: "P1^^^&1.2.3&ISO" },
 *   { url: registry.url },
 * );
 * assert.equal(result.documents.length, 0);
 * assert.equal(result.excluded[0]?.uniqueId, "1.2.3.4.101");
 * ```
 */
export interface FindDocumentsResult extends FindDocumentsResponse {
  /** Entries the registry sent that the client-side filter dropped. */
  readonly excluded: readonly DocumentEntry[];
  /** How many HTTP attempts the query took. */
  readonly attempts: number;
}

/**
 * Finds a patient's documents (by default: KOS manifests) in an XDS
 * registry with ITI-18, or with ITI-38 in a responding gateway when the
 * options say `crossGateway` (and `homeCommunityId` for the AdhocQuery
 * `home`). Sent through the exchange core: a `securityHeader` is asked
 * for per attempt, `onUnauthorized` may log in once, transient failures
 * are retried, and the answer is capped by `maxRootPartSize`.
 *
 * @param query The query (checked before anything is sent).
 * @param options The exchange options, or an already resolved config.
 * @returns The entries kept, those dropped by the client-side filter,
 * the registry's warnings and errors (PartialSuccess), the attempts.
 * @throws {InvalidQueryParameterError} When a query value is malformed.
 * @throws {RegistryQueryError} When the registry answers Failure
 * ({@linkcode XDSTooManyResultsError} for `XDSTooManyResults`).
 * @throws {Rad69Error} Any failure of the exchange (HTTP, Fault, limits,
 * {@linkcode AuthenticationError}).
 *
 * @example Find a patient's KOS manifests
 * ```ts
 * import assert from "node:assert/strict";
 * import { findDocuments } from "./iti18.ts";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 *
 * await using registry = await FakeXdsRegistry.start();
 * registry.addDocument({
 *   patientId: "P1^^^&1.2.3&ISO",
 *   uniqueId: "1.2.3.4.100",
 *   repositoryUniqueId: "1.2.3.4.5",
 *   serviceStartTime: "20240315",
 * });
 * const result = await findDocuments(
 *   { patientId: "P1^^^&1.2.3&ISO", serviceStartFrom: "2024-01-01" },
 *   { url: registry.url },
 * );
 * assert.equal(result.status, "Success");
 * assert.deepEqual(result.documents.map((d) => d.uniqueId), ["1.2.3.4.100"]);
 * ```
 */
export async function findDocuments(
  query: FindDocumentsQuery,
  options: ExchangeOptions,
): Promise<FindDocumentsResult> {
  const config = resolveExchangeConfig(options);
  const s = config.settings;
  querySlots(query); // Checked once, before anything is sent.
  const name = s.crossGateway ? "ITI-38 query" : "ITI-18 query";
  const build = (extras: { securityHeader?: string | undefined }) =>
    buildFindDocumentsRequest(query, {
      url: s.url,
      crossGateway: s.crossGateway,
      homeCommunityId: s.homeCommunityId,
      addressingMustUnderstand: s.addressingMustUnderstand,
      securityHeader: extras.securityHeader,
    });
  const answer = await callSoap(build, config, name);
  const response = parseFindDocumentsResponse(answer.xml, {
    httpStatus: answer.status,
    what: `${name} to ${s.printableUrl}`,
  });
  const kosOnly = query.kosOnly ?? true;
  const documents: DocumentEntry[] = [];
  const excluded: DocumentEntry[] = [];
  for (const entry of response.documents) {
    if (!kosOnly || entry.mimeType === DICOM_MIME_TYPE) documents.push(entry);
    else excluded.push(entry);
  }
  if (excluded.length > 0) {
    config.logger.info?.(
      `${name} to ${s.printableUrl}: ${excluded.length} entry(ies) not application/dicom left out`,
    );
  }
  return {
    status: response.status,
    documents,
    errors: response.errors,
    excluded,
    attempts: answer.attempts,
  };
}
