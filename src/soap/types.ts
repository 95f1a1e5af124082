/**
 * Types shared by the SOAP request builder and response parser.
 *
 * @module
 */

/** The three RegistryResponse statuses of ITI-43 / RAD-69. */
export type RetrieveStatus = "Success" | "PartialSuccess" | "Failure";

/** One `rs:RegistryError` of a RegistryErrorList. */
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

/** One `xdsb:DocumentResponse` of a RetrieveDocumentSetResponse. */
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

/** A parsed `xdsb:RetrieveDocumentSetResponse`. */
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
