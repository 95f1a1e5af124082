/**
 * The XDS-I.b transactions one by one, for callers who drive the flow
 * themselves: ITI-18 / ITI-38 FindDocuments (a patient's KOS manifests),
 * ITI-43 / ITI-39 document retrieve (KOS manifests or any document), and
 * the KOS reader. The whole flow, from a patient or a manifest to files on
 * disk, is `XdsImagingConsumer` in the main module.
 *
 * @example Build a retrieve request for one document
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRetrieveDocumentSetRequest } from "@rad69/client/xds";
 *
 * const request = buildRetrieveDocumentSetRequest(
 *   [{ repositoryUniqueId: "1.2.3", documentUniqueId: "1.2.3.4" }],
 *   { url: "http://127.0.0.1:8080/repository" },
 * );
 * assert.ok(request.xml.includes("RetrieveDocumentSetRequest"));
 * ```
 *
 * @module
 */

export type { ExchangeOptions } from "../config.ts";
export type { UnauthorizedEvent } from "../exchange/auth_types.ts";
export {
  type BuildRetrieveDocumentSetOptions,
  buildRetrieveDocumentSetRequest,
  type DocumentOutcome,
  type DocumentReference,
  ITI39_ACTION,
  ITI43_ACTION,
  type RetrievedDocument,
  retrieveDocuments,
} from "./iti43.ts";
export {
  assertPatientCx,
  buildFindDocumentsRequest,
  type BuildFindDocumentsRequestOptions,
  type DocumentEntry,
  FIND_DOCUMENTS_QUERY_ID,
  findDocuments,
  type FindDocumentsQuery,
  type FindDocumentsResponse,
  type FindDocumentsResult,
  ITI18_ACTION,
  ITI38_ACTION,
  KOS_FORMAT_CODE,
  parseFindDocumentsResponse,
  type ParseFindDocumentsResponseOptions,
  type XdsCode,
} from "./iti18.ts";
export {
  KOS_SOP_CLASS_UID,
  type KosInstance,
  type KosManifest,
  type KosReference,
  type KosSeries,
  type KosStudy,
  kosToReferences,
  readKos,
  type ReadKosOptions,
} from "./kos.ts";
