/**
 * The XDS-I.b transactions one by one, for callers who drive the flow
 * themselves: ITI-43 / ITI-39 document retrieve (KOS manifests or any
 * document). The whole flow, from a patient or a manifest to files on disk,
 * is `XdsImagingConsumer` in the main module.
 *
 * @example Retrieve one document
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
