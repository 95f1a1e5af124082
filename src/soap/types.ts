/**
 * Types shared by the SOAP request builder and response parser.
 *
 * @module
 */

/**
 * The three RegistryResponse statuses of ITI-43 / RAD-69.
 *
 * @example Tell a partial answer
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetrieveResponse, type RetrieveStatus } from "@rad69/client";
 *
 * const xml = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
 * <RetrieveDocumentSetResponse xmlns="urn:ihe:iti:xds-b:2007">
 *   <RegistryResponse xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
 *     status="urn:ihe:iti:2007:ResponseStatusType:PartialSuccess">
 *     <RegistryErrorList><RegistryError errorCode="XDSMissingDocument"
 *       codeContext="Not found" location="1.2.3.4.6"
 *       severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"/>
 *     </RegistryErrorList>
 *   </RegistryResponse>
 * </RetrieveDocumentSetResponse></s:Body></s:Envelope>`;
 * const status: RetrieveStatus = parseRetrieveResponse(xml).status;
 * assert.equal(status, "PartialSuccess"); // IHE and OASIS URNs alike
 * ```
 */
export type RetrieveStatus = "Success" | "PartialSuccess" | "Failure";

/**
 * One `rs:RegistryError` of a RegistryErrorList.
 *
 * @example Read the errors of an answer
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetrieveResponse, type RegistryError } from "@rad69/client";
 *
 * const xml = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
 * <RetrieveDocumentSetResponse xmlns="urn:ihe:iti:xds-b:2007">
 *   <RegistryResponse xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
 *     status="urn:ihe:iti:2007:ResponseStatusType:PartialSuccess">
 *     <RegistryErrorList><RegistryError errorCode="XDSMissingDocument"
 *       codeContext="Not found" location="1.2.3.4.6"
 *       severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"/>
 *     </RegistryErrorList>
 *   </RegistryResponse>
 * </RetrieveDocumentSetResponse></s:Body></s:Envelope>`;
 * const [error]: readonly RegistryError[] = parseRetrieveResponse(xml).errors;
 * assert.equal(error!.code, "XDSMissingDocument");
 * assert.equal(error!.location, "1.2.3.4.6");
 * assert.equal(error!.isWarning, true);
 * ```
 */
export interface RegistryError {
  /** `@errorCode`, exactly as sent (unknown codes are kept as strings). */
  readonly code: string;
  /** `@codeContext`, or "" when absent. */
  readonly context: string;
  /** `@location`, or "" when absent. */
  readonly location: string;
  /** `@severity` URN (default `urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error`). */
  readonly severity: string;
  /** `true` when the severity is a Warning. */
  readonly isWarning: boolean;
}

/**
 * One `xdsb:DocumentResponse` of a RetrieveDocumentSetResponse.
 *
 * @example An inline document
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   buildRetrieveRequest,
 *   type DocumentResponse,
 *   parseRetrieveResponse,
 * } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   dialect: "inline", // plain SOAP, base64 documents
 * });
 * const request = buildRetrieveRequest(study, { url: server.url });
 * const answer = await fetch(server.url, {
 *   method: "POST",
 *   headers: { "content-type": request.contentType },
 *   body: request.body as Uint8Array<ArrayBuffer>,
 * });
 * const [doc]: readonly DocumentResponse[] =
 *   parseRetrieveResponse(await answer.text()).documents;
 * assert.equal(doc!.documentUniqueId, study[0]!.instanceUid);
 * assert.equal(doc!.contentId, undefined); // inline, not an xop:Include
 * assert.deepEqual(doc!.inline, study[0]!.bytes);
 * ```
 */
export interface DocumentResponse {
  /** `xdsb:DocumentUniqueId` (the SOP Instance UID). */
  readonly documentUniqueId: string;
  /** `xdsb:RepositoryUniqueId`, or "" when absent. */
  readonly repositoryUniqueId: string;
  /** `xdsb:HomeCommunityId`, when present. */
  readonly homeCommunityId?: string;
  /** `xdsb:mimeType`, or "" when absent. */
  readonly mimeType: string;
  /**
   * The Content-ID the `xop:Include href` points to, normalised per RFC 2392
   * (`cid:` stripped, percent-decoded, no angle brackets). Absent when the
   * document is inline.
   */
  readonly contentId?: string;
  /** The inline base64 document, decoded. Absent when it is an xop:Include. */
  readonly inline?: Uint8Array;
}

/**
 * A parsed `xdsb:RetrieveDocumentSetResponse`.
 *
 * @example Parse a plain SOAP answer
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   buildRetrieveRequest,
 *   parseRetrieveResponse,
 *   type RetrieveResponse,
 * } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   dialect: "inline", // plain SOAP, base64 documents
 * });
 * const request = buildRetrieveRequest(study, { url: server.url });
 * const answer = await fetch(server.url, {
 *   method: "POST",
 *   headers: { "content-type": request.contentType },
 *   body: request.body as Uint8Array<ArrayBuffer>,
 * });
 * const response: RetrieveResponse = parseRetrieveResponse(await answer.text());
 * assert.equal(response.status, "Success");
 * assert.deepEqual(response.errors, []);
 * assert.equal(response.documents.length, 1);
 * ```
 */
export interface RetrieveResponse {
  /** The status, normalised (IHE and OASIS PartialSuccess both map here). */
  readonly status: RetrieveStatus;
  /** The status URN exactly as sent. */
  readonly statusUrn: string;
  /** Every RegistryError, errors and warnings, in document order. */
  readonly errors: readonly RegistryError[];
  /** Every DocumentResponse, in document order. */
  readonly documents: readonly DocumentResponse[];
}
