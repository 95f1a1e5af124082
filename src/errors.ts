/**
 * The error classes of the package. Every failure the client reports is a
 * {@linkcode Rad69Error}, so `catch (e) { if (e instanceof Rad69Error) … }`
 * catches everything the library itself raises.
 *
 * @module
 */

import type { InstanceReference } from "./reference_types.ts";
import type { RegistryError } from "./soap/types.ts";

/**
 * Options accepted by every error class of this package.
 *
 * @example Say which instance an error is about
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Error, type Rad69ErrorOptions } from "@rad69/client";
 *
 * const instance = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
 * const options: Rad69ErrorOptions = { instance, cause: new Error("EOF") };
 * const error = new Rad69Error('Cannot read instance "1.2.3.4"', options);
 * assert.equal(error.instance, instance);
 * assert.equal(error.cause, options.cause);
 * ```
 */
export interface Rad69ErrorOptions extends ErrorOptions {
  /** The instance this error is about, when it is about one. */
  instance?: InstanceReference;
}

/**
 * Base class of every error this package raises. `instance` names the
 * instance the error is about, when it is about one.
 *
 * @example Catch any rad69 failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, Rad69Error } from "@rad69/client";
 * import { FakeRad69Server } from "@rad69/client/testing";
 *
 * await using server = await FakeRad69Server.start(); // holds no instance
 * const client = new Rad69Client({ url: server.url });
 * const ref = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
 * try {
 *   await client.getDataset(ref);
 *   assert.fail("the server has no such instance");
 * } catch (e) {
 *   if (!(e instanceof Rad69Error)) throw e;
 *   assert.equal(e.instance?.instanceUid, "1.2.3.4");
 * }
 * ```
 */
export class Rad69Error extends Error {
  /** The instance the error concerns, when it concerns a single one. */
  readonly instance: InstanceReference | undefined;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options The cause and the instance concerned.
   *
   * @example Report a failure of your own code about an instance
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Error } from "@rad69/client";
   *
   * const instance = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
   * const cause = new Error("Disk full");
   * const error = new Rad69Error(`Cannot store instance "1.2.3.4"`, {
   *   cause,
   *   instance,
   * });
   * assert.equal(error.name, "Rad69Error");
   * assert.equal(error.cause, cause);
   * assert.equal(error.instance, instance);
   * ```
   */
  constructor(message: string, options?: Rad69ErrorOptions) {
    super(message, options);
    this.name = "Rad69Error";
    this.instance = options?.instance;
  }
}

/**
 * A study or series was given without its instances. RAD-69 retrieves
 * instances only, so every reference must name its SOP Instance UIDs.
 *
 * @example Ask for a study without its instances
 * ```ts
 * import assert from "node:assert/strict";
 * import { NonInstanceParameterError } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * assert.throws(
 *   () => toInstanceRefs([{ studyUid: "1.2.3" }]),
 *   NonInstanceParameterError,
 * );
 * ```
 */
export class NonInstanceParameterError extends Rad69Error {
  /**
   * Creates the error.
   *
   * @param message What was given without instances.
   * @param options The cause.
   */
  constructor(message: string, options?: Rad69ErrorOptions) {
    super(message, options);
    this.name = "NonInstanceParameterError";
  }
}

/**
 * A UID does not follow the DICOM UID syntax (PS3.5 §9.1): digits and dots,
 * no empty component, no leading zero in a component other than "0", at most
 * 64 characters. Raised before any request is sent.
 *
 * @example Find the malformed UID
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidUidError } from "@rad69/client";
 * import { toInstanceRefs } from "./references.ts";
 *
 * assert.throws(
 *   () =>
 *     toInstanceRefs([
 *       { studyUid: "1.2", seriesUid: "1.02", instanceUid: "1.2.3" },
 *     ]),
 *   (e) => {
 *     assert.ok(e instanceof InvalidUidError);
 *     assert.equal(e.uid, "1.02");
 *     assert.equal(e.where, "references[0].seriesUid");
 *     return true;
 *   },
 * );
 * ```
 */
export class InvalidUidError extends Rad69Error {
  /** The offending value. */
  readonly uid: string;
  /** Where the value was found, e.g. `references[3].seriesInstanceUid`. */
  readonly where: string;

  /**
   * Creates the error.
   *
   * @param uid The offending value.
   * @param where Where it was found.
   * @param reason Why it is not a UID.
   */
  constructor(uid: string, where: string, reason: string) {
    super(`Invalid DICOM UID at ${where}: "${uid}" ${reason}`);
    this.name = "InvalidUidError";
    this.uid = uid;
    this.where = where;
  }
}

/**
 * An instance list (CSV or JSON) is malformed: the message names the file
 * and the line (and column, for JSON syntax) or the entry.
 *
 * @example A CSV line with two fields
 * ```ts
 * import assert from "node:assert/strict";
 * import { InstanceListError, parseInstanceList } from "@rad69/client";
 *
 * assert.throws(
 *   () => parseInstanceList("1.2,1.2.3,1.2.3.4\n1.2,1.2.3\n", { file: "list.csv" }),
 *   (e) => {
 *     assert.ok(e instanceof InstanceListError);
 *     assert.equal(e.file, "list.csv");
 *     assert.equal(e.line, 2);
 *     return true;
 *   },
 * );
 * ```
 */
export class InstanceListError extends Rad69Error {
  /** The file (or the name given for the text). */
  readonly file: string;
  /** The 1-based line, when known. */
  readonly line: number | undefined;
  /** The 1-based column, when known (JSON syntax errors). */
  readonly column: number | undefined;
  /** The 1-based entry of a JSON array, when the error is about one. */
  readonly entry: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What is wrong and where.
   * @param options The file, its line, column or entry, and the cause.
   */
  constructor(
    message: string,
    options: ErrorOptions & {
      file: string;
      line?: number;
      column?: number;
      entry?: number;
    },
  ) {
    super(message, options);
    this.name = "InstanceListError";
    this.file = options.file;
    this.line = options.line;
    this.column = options.column;
    this.entry = options.entry;
  }
}

/**
 * A download layout could not place an instance: the layout function threw
 * or returned no usable path, or two instances would land on one path
 * (`conflictsWith` names the instance already there). Reported per
 * instance; nothing is overwritten.
 *
 * @example Two instances for one file name
 * ```ts
 * import assert from "node:assert/strict";
 * import { LayoutError } from "@rad69/client";
 *
 * const first = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
 * const second = { ...first, instanceUid: "1.2.3.5" };
 * const error = new LayoutError(`Both land on "out/a.dcm"`, {
 *   instance: second,
 *   conflictsWith: first,
 * });
 * assert.equal(error.conflictsWith, first);
 * assert.equal(error.name, "LayoutError");
 * ```
 */
export class LayoutError extends Rad69Error {
  /** The instance that already holds the path, for a collision. */
  readonly conflictsWith: InstanceReference | undefined;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options The instance, the instance it collides with, the cause.
   */
  constructor(
    message: string,
    options: Rad69ErrorOptions & { conflictsWith?: InstanceReference } = {},
  ) {
    super(message, options);
    this.name = "LayoutError";
    this.conflictsWith = options.conflictsWith;
  }
}

/**
 * Options of {@linkcode Rad69HttpError}.
 *
 * @example A 503 with Retry-After is transient
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69HttpError, type Rad69HttpErrorOptions } from "@rad69/client";
 * import { isTransientError } from "./retry.ts";
 *
 * const options: Rad69HttpErrorOptions = {
 *   status: 503,
 *   url: "https://pacs.example/rad69",
 *   bodyExcerpt: "<html>Service Unavailable</html>",
 *   retryAfterSeconds: 2,
 * };
 * const error = new Rad69HttpError("Server busy", options);
 * assert.equal(error.status, 503);
 * assert.equal(error.retryAfterSeconds, 2);
 * assert.ok(isTransientError(error));
 * ```
 */
export interface Rad69HttpErrorOptions extends Rad69ErrorOptions {
  /** The HTTP status code. */
  status: number;
  /** The URL that answered. */
  url: string;
  /** The first bytes of the body, decoded as text. */
  bodyExcerpt: string;
  /** Seconds the server asked to wait (`Retry-After`), when it said so. */
  retryAfterSeconds?: number;
}

/**
 * The server answered with a non-2xx status and no SOAP Fault. Statuses 408,
 * 429, 502, 503 and 504 are retried (honouring `Retry-After`); others are
 * permanent.
 *
 * @example A login page instead of a RAD-69 answer
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, Rad69HttpError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: [instance!],
 *   plan: { http: { status: 401, body: "<html>Please log in</html>" } },
 * });
 * const client = new Rad69Client({ url: server.url });
 * await assert.rejects(client.getDataset(instance!), (e) => {
 *   assert.ok(e instanceof Rad69HttpError);
 *   assert.equal(e.status, 401);
 *   assert.match(e.bodyExcerpt, /Please log in/);
 *   return true;
 * });
 * ```
 */
export class Rad69HttpError extends Rad69Error {
  /** The HTTP status code. */
  readonly status: number;
  /** The URL that answered. */
  readonly url: string;
  /** The first few hundred bytes of the body, decoded as text. */
  readonly bodyExcerpt: string;
  /** Seconds the server asked to wait before retrying, if it said so. */
  readonly retryAfterSeconds: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options Status, URL and body excerpt.
   */
  constructor(message: string, options: Rad69HttpErrorOptions) {
    super(message, options);
    this.name = "Rad69HttpError";
    this.status = options.status;
    this.url = options.url;
    this.bodyExcerpt = options.bodyExcerpt;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * Options of {@linkcode Rad69ServerError}.
 *
 * @example Keep the RegistryError's fields
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   Rad69ServerError,
 *   type Rad69ServerErrorOptions,
 * } from "@rad69/client";
 *
 * const options: Rad69ServerErrorOptions = {
 *   code: "XDSUnknownRepositoryId",
 *   context: "Unknown Repository UID [1.2.3]",
 *   location: "1.2.3.4.5",
 *   severity: "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error",
 * };
 * const error = new Rad69ServerError("Repository refused", options);
 * assert.equal(error.code, "XDSUnknownRepositoryId");
 * assert.equal(error.location, "1.2.3.4.5");
 * ```
 */
export interface Rad69ServerErrorOptions extends Rad69ErrorOptions {
  /** The `errorCode` of the RegistryError, or the SOAP Fault code. */
  code: string;
  /** The `codeContext` of the RegistryError, or the Fault reason. */
  context?: string;
  /** The `location` of the RegistryError. */
  location?: string;
  /** The `severity` URN of the RegistryError. */
  severity?: string;
}

/**
 * The server reported an error for an instance (a RegistryError with
 * severity Error), or for the whole request. The error code is kept as the
 * string the server sent, whatever it is.
 *
 * @example A server that checks the RepositoryUniqueId
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, Rad69ServerError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: [instance!],
 *   expectedRepositoryUniqueId: "1.2.840.99.1",
 * });
 * // No repositoryUniqueId given: the default one is sent, and refused.
 * const client = new Rad69Client({ url: server.url });
 * await assert.rejects(client.getDataset(instance!), (e) => {
 *   assert.ok(e instanceof Rad69ServerError);
 *   assert.equal(e.code, "XDSUnknownRepositoryId");
 *   return true;
 * });
 * ```
 */
export class Rad69ServerError extends Rad69Error {
  /** The error code exactly as the server sent it. */
  readonly code: string;
  /** The code context (a human-readable explanation), possibly empty. */
  readonly context: string;
  /** The location the server gave, possibly empty. */
  readonly location: string;
  /** The severity URN, possibly empty. */
  readonly severity: string;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options The code, context, location and severity.
   */
  constructor(message: string, options: Rad69ServerErrorOptions) {
    super(message, options);
    this.name = "Rad69ServerError";
    this.code = options.code;
    this.context = options.context ?? "";
    this.location = options.location ?? "";
    this.severity = options.severity ?? "";
  }
}

/**
 * The server does not have the requested document: it answered
 * `XDSMissingDocument` or `XDSDocumentUniqueIdError` (or the WADO-WS code
 * `urn:dicom:wado:0017`) for it. List it in `errorsToIgnore` to skip missing
 * instances.
 *
 * @example Skip instances the server does not have
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, XDSMissingDocumentError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [kept, removed] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [kept!] });
 * const client = new Rad69Client({
 *   url: server.url,
 *   errorsToIgnore: [XDSMissingDocumentError],
 *   logger: {}, // ignored errors are logged as warnings: silence them
 * });
 * const uids: string[] = [];
 * for await (const instance of client.datasets([kept!, removed!])) {
 *   uids.push(instance.ref.instanceUid);
 * }
 * assert.deepEqual(uids, [kept!.instanceUid]);
 * ```
 */
export class XDSMissingDocumentError extends Rad69ServerError {
  /**
   * Creates the error.
   *
   * @param message What is missing.
   * @param options The code, context, location and severity.
   */
  constructor(message: string, options: Rad69ServerErrorOptions) {
    super(message, options);
    this.name = "XDSMissingDocumentError";
  }
}

/**
 * Options of {@linkcode SoapFaultError}.
 *
 * @example A Receiver Fault carried by HTTP 500
 * ```ts
 * import assert from "node:assert/strict";
 * import { SoapFaultError, type SoapFaultErrorOptions } from "@rad69/client";
 *
 * const options: SoapFaultErrorOptions = {
 *   code: "env:Receiver",
 *   reason: "Database unavailable",
 *   status: 500,
 * };
 * const error = new SoapFaultError("Server fault", options);
 * assert.equal(error.reason, "Database unavailable");
 * assert.equal(error.context, "Database unavailable"); // reason is the context
 * assert.equal(error.subcode, "");
 * ```
 */
export interface SoapFaultErrorOptions extends Rad69ErrorOptions {
  /** The Fault code value, e.g. `env:Sender`. */
  code: string;
  /** The first Subcode value, e.g. `wsa:MessageAddressingHeaderRequired`. */
  subcode?: string;
  /** The Fault reason text. */
  reason: string;
  /** The HTTP status that carried the Fault. */
  status: number;
}

/**
 * The server answered with a SOAP Fault, whatever the HTTP status
 * (WS-I BP R1107).
 *
 * @example A Sender Fault
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, SoapFaultError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: [instance!],
 *   plan: { soapFault: { code: "Sender", reason: "Request rejected" } },
 * });
 * const client = new Rad69Client({ url: server.url });
 * await assert.rejects(client.getDataset(instance!), (e) => {
 *   assert.ok(e instanceof SoapFaultError);
 *   assert.equal(e.code, "env:Sender");
 *   assert.equal(e.reason, "Request rejected");
 *   assert.equal(e.status, 400);
 *   return true;
 * });
 * ```
 */
export class SoapFaultError extends Rad69ServerError {
  /** The Fault Subcode value, or "" when there is none. */
  readonly subcode: string;
  /** The Fault reason text. */
  readonly reason: string;
  /** The HTTP status that carried the Fault. */
  readonly status: number;
  /**
   * Seconds the server asked to wait (`Retry-After` on the HTTP answer that
   * carried the Fault), if it said so.
   */
  retryAfterSeconds: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options The Fault's code, subcode, reason and HTTP status.
   */
  constructor(message: string, options: SoapFaultErrorOptions) {
    super(message, { ...options, context: options.reason });
    this.name = "SoapFaultError";
    this.subcode = options.subcode ?? "";
    this.reason = options.reason;
    this.status = options.status;
    this.retryAfterSeconds = undefined;
  }
}

/**
 * The answer is not a RAD-69 answer: wrong or missing Content-Type, a
 * malformed SOAP envelope, a multipart body that breaks the MIME rules, or a
 * root part that does not hold a RetrieveDocumentSetResponse.
 *
 * @example An HTML page with status 200
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, Rad69ProtocolError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: [instance!],
 *   plan: { http: { status: 200, body: "<html>Maintenance</html>" } },
 * });
 * const client = new Rad69Client({ url: server.url });
 * await assert.rejects(client.getDataset(instance!), (e) => {
 *   assert.ok(e instanceof Rad69ProtocolError);
 *   assert.match(e.message, /unexpected Content-Type "text\/html/);
 *   assert.match(e.excerpt, /Maintenance/);
 *   return true;
 * });
 * ```
 */
export class Rad69ProtocolError extends Rad69Error {
  /** The first bytes of the offending content, decoded as text ("" if none). */
  readonly excerpt: string;

  /**
   * Creates the error.
   *
   * @param message What is wrong.
   * @param options The cause, the instance, and an excerpt of the content.
   */
  constructor(
    message: string,
    options?: Rad69ErrorOptions & { excerpt?: string },
  ) {
    super(message, options);
    this.name = "Rad69ProtocolError";
    this.excerpt = options?.excerpt ?? "";
  }
}

/**
 * A multipart body breaks the MIME rules at a byte offset (missing boundary,
 * malformed part headers, a boundary over 70 characters).
 *
 * @example A multipart Content-Type without a boundary
 * ```ts
 * import assert from "node:assert/strict";
 * import { MultipartSyntaxError } from "@rad69/client";
 * import { parseMultipartContentType } from "./multipart/content_type.ts";
 *
 * assert.throws(
 *   () => parseMultipartContentType('multipart/related; type="application/xop+xml"'),
 *   MultipartSyntaxError,
 * );
 * ```
 */
export class MultipartSyntaxError extends Rad69ProtocolError {
  /** Byte offset in the body where the problem was found (-1 if unknown). */
  readonly offset: number;

  /**
   * Creates the error.
   *
   * @param message What is wrong.
   * @param offset Byte offset in the body (-1 if unknown).
   */
  constructor(message: string, offset = -1) {
    super(offset >= 0 ? `${message} (at byte ${offset})` : message);
    this.name = "MultipartSyntaxError";
    this.offset = offset;
  }
}

/**
 * The answer ended before its closing delimiter (or before a part that the
 * SOAP root referenced arrived). The incomplete part is never delivered;
 * every instance not yet delivered fails with this error. Transient: the
 * client retries these when `retries` allows.
 *
 * @example An answer cut short, not retried
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, TruncatedResponseError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: [instance!],
 *   plan: { truncate: { at: 2000, mode: "end" } },
 * });
 * const client = new Rad69Client({ url: server.url, retries: 0 });
 * await assert.rejects(client.getDataset(instance!), TruncatedResponseError);
 * ```
 */
export class TruncatedResponseError extends Rad69Error {
  /**
   * Creates the error.
   *
   * @param message What was cut.
   * @param options The cause and the instance concerned.
   */
  constructor(message: string, options?: Rad69ErrorOptions) {
    super(message, options);
    this.name = "TruncatedResponseError";
  }
}

/**
 * The server answered Success (or PartialSuccess) but sent no document and
 * no RegistryError for a requested instance.
 *
 * @example A server that silently leaves an instance out
 * ```ts
 * import assert from "node:assert/strict";
 * import { DocumentNotReturnedError, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: [instance!],
 *   plan: { omit: [instance!.instanceUid] },
 * });
 * const client = new Rad69Client({ url: server.url });
 * await assert.rejects(client.getDataset(instance!), DocumentNotReturnedError);
 * ```
 */
export class DocumentNotReturnedError extends Rad69Error {
  /**
   * Creates the error.
   *
   * @param message Which instance was not returned.
   * @param options The instance concerned.
   */
  constructor(message: string, options?: Rad69ErrorOptions) {
    super(message, options);
    this.name = "DocumentNotReturnedError";
  }
}

/**
 * The bytes returned for a document are not a DICOM Part-10 instance.
 *
 * @example Check the bytes of a part
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance, InvalidDicomError } from "@rad69/client";
 *
 * const html = new TextEncoder().encode("<html>Internal error</html>");
 * assert.throws(() => decodeInstance(html, "1.2.3.4"), (e) => {
 *   assert.ok(e instanceof InvalidDicomError);
 *   assert.equal(e.documentUniqueId, "1.2.3.4");
 *   return true;
 * });
 * ```
 */
export class InvalidDicomError extends Rad69Error {
  /** The DocumentUniqueId the bytes came for. */
  readonly documentUniqueId: string;

  /**
   * Creates the error.
   *
   * @param documentUniqueId The DocumentUniqueId the bytes came for.
   * @param reason Why the bytes are not DICOM.
   * @param options The cause and the instance concerned.
   */
  constructor(
    documentUniqueId: string,
    reason: string,
    options?: Rad69ErrorOptions,
  ) {
    super(
      `Document "${documentUniqueId}" is not a DICOM instance: ${reason}`,
      options,
    );
    this.name = "InvalidDicomError";
    this.documentUniqueId = documentUniqueId;
  }
}

/**
 * The SOP Instance UID inside a returned instance differs from the
 * DocumentUniqueId it was returned for.
 *
 * @example Bytes of another instance
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeInstance, SopInstanceMismatchError } from "@rad69/client";
 * import { buildDicomInstance } from "@rad69/client/testing";
 *
 * const bytes = buildDicomInstance({ instanceUid: "1.2.3.4.6" });
 * assert.throws(() => decodeInstance(bytes, "1.2.3.4.5"), (e) => {
 *   assert.ok(e instanceof SopInstanceMismatchError);
 *   assert.equal(e.foundSopInstanceUid, "1.2.3.4.6");
 *   return true;
 * });
 * ```
 */
export class SopInstanceMismatchError extends Rad69Error {
  /** The DocumentUniqueId the bytes came for. */
  readonly documentUniqueId: string;
  /** The SOP Instance UID found inside the bytes. */
  readonly foundSopInstanceUid: string;

  /**
   * Creates the error.
   *
   * @param documentUniqueId The DocumentUniqueId the bytes came for.
   * @param found The SOP Instance UID found inside the bytes.
   * @param options The instance concerned.
   */
  constructor(
    documentUniqueId: string,
    found: string,
    options?: Rad69ErrorOptions,
  ) {
    super(
      `Document "${documentUniqueId}" holds SOP Instance UID "${found}" instead`,
      options,
    );
    this.name = "SopInstanceMismatchError";
    this.documentUniqueId = documentUniqueId;
    this.foundSopInstanceUid = found;
  }
}

/**
 * A configured size limit was exceeded (root part, one part, headers).
 *
 * @example An instance larger than `maxPartSize`
 * ```ts
 * import assert from "node:assert/strict";
 * import { LimitExceededError, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({
 *   series: 1,
 *   instancesPerSeries: 1,
 *   pixelBytes: 8192,
 * });
 * await using server = await FakeRad69Server.start({ instances: [instance!] });
 * const client = new Rad69Client({ url: server.url, maxPartSize: 4096 });
 * await assert.rejects(client.getDataset(instance!), (e) => {
 *   assert.ok(e instanceof LimitExceededError);
 *   assert.equal(e.limit, "maxPartSize");
 *   assert.equal(e.max, 4096);
 *   return true;
 * });
 * ```
 */
export class LimitExceededError extends Rad69ProtocolError {
  /** The name of the limit, e.g. `maxPartSize`. */
  readonly limit: string;
  /** The limit's value. */
  readonly max: number;

  /**
   * Creates the error.
   *
   * @param limit The name of the limit.
   * @param max The limit's value.
   * @param what What exceeded it.
   */
  constructor(limit: string, max: number, what: string) {
    super(`${what} exceeds ${limit} (${max})`);
    this.name = "LimitExceededError";
    this.limit = limit;
    this.max = max;
  }
}

/**
 * An instance is larger than what `retrieve()`, `datasets()` and
 * `getDataset()` hold in memory (`maxDatasetSize`, 1 GiB by default).
 * `download()` has no such cap: it streams each instance to its file.
 *
 * @example An instance over the in-memory cap
 * ```ts
 * import assert from "node:assert/strict";
 * import { InstanceTooLargeError, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({ url: server.url, maxDatasetSize: 1024 });
 * await assert.rejects(client.getDataset(study[0]!), InstanceTooLargeError);
 * ```
 */
export class InstanceTooLargeError extends LimitExceededError {
  /**
   * Creates the error.
   *
   * @param documentUniqueId The instance's UID.
   * @param max The cap, in bytes.
   * @param options The instance concerned.
   */
  constructor(
    documentUniqueId: string,
    max: number,
    options?: Rad69ErrorOptions,
  ) {
    super("maxDatasetSize", max, `Instance "${documentUniqueId}"`);
    this.name = "InstanceTooLargeError";
    this.message =
      `Instance "${documentUniqueId}" is larger than maxDatasetSize (${max} bytes), the most retrieve(), datasets() and getDataset() hold in memory: use download(), which streams each instance to its file, or raise maxDatasetSize`;
    (this as { instance: InstanceReference | undefined }).instance = options
      ?.instance;
  }
}

/**
 * The connection failed, was reset, timed out, or stalled. Transient: the
 * client retries these when `retries` allows.
 *
 * @example A connection dropped mid-answer, not retried
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, Rad69NetworkError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const [instance] = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: [instance!],
 *   plan: { truncate: { at: 2000, mode: "abort" } },
 * });
 * const client = new Rad69Client({ url: server.url, retries: 0 });
 * await assert.rejects(client.getDataset(instance!), Rad69NetworkError);
 * ```
 */
export class Rad69NetworkError extends Rad69Error {
  /**
   * Creates the error.
   *
   * @param message What happened.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: Rad69ErrorOptions) {
    super(message, options);
    this.name = "Rad69NetworkError";
  }
}

/**
 * More than one requested instance failed and none of the failures was
 * ignored. `failures` lists each with its own error.
 *
 * @example Two instances of a series are missing
 * ```ts
 * import assert from "node:assert/strict";
 * import { IncompleteRetrieveError, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start(); // holds neither
 * const client = new Rad69Client({ url: server.url });
 * await assert.rejects(
 *   async () => {
 *     for await (const _ of client.datasets(study)) {
 *       // Nothing is delivered.
 *     }
 *   },
 *   (e) => {
 *     assert.ok(e instanceof IncompleteRetrieveError);
 *     assert.equal(e.failures.length, 2);
 *     return true;
 *   },
 * );
 * ```
 */
export class IncompleteRetrieveError extends Rad69Error {
  /** Every instance that was not delivered, with the reason. */
  readonly failures: readonly Rad69Error[];

  /**
   * Creates the error.
   *
   * @param failures The per-instance errors.
   */
  constructor(failures: readonly Rad69Error[]) {
    const first = failures[0];
    super(
      `${failures.length} instance(s) were not delivered; first: ${
        first ? first.message : "none"
      }`,
      { cause: first },
    );
    this.name = "IncompleteRetrieveError";
    this.failures = failures;
  }
}

/**
 * The server refused the credentials (HTTP 401/403, or a SOAP Fault saying
 * the security token is missing, invalid or expired), and there was no
 * `onUnauthorized` hook, the hook failed, or the request was still refused
 * after the hook logged in again. Never retried in a loop.
 *
 * @example A hook that cannot log in
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthenticationError } from "@rad69/client";
 *
 * const error = new AuthenticationError(
 *   "Re-login for https://pacs.example/rad69 failed: STS unreachable",
 *   { url: "https://pacs.example/rad69" },
 * );
 * assert.equal(error.url, "https://pacs.example/rad69");
 * assert.equal(error.name, "AuthenticationError");
 * ```
 */
export class AuthenticationError extends Rad69Error {
  /** The endpoint that refused (credentials redacted). */
  readonly url: string;

  /**
   * Creates the error.
   *
   * @param message What happened.
   * @param options The endpoint, the cause and the instance.
   */
  constructor(message: string, options: Rad69ErrorOptions & { url: string }) {
    super(message, options);
    this.name = "AuthenticationError";
    this.url = options.url;
  }
}

/**
 * Instances listed by a KOS manifest live in an imaging document source
 * (a Retrieve Location UID) that no endpoint is given for. Raised while
 * planning, before any image is requested.
 *
 * @example Plan a manifest whose source is not mapped
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownSourceError } from "@rad69/client";
 *
 * const error = new UnknownSourceError([
 *   { repositoryUniqueId: "1.2.3.4", instances: 12, series: 2 },
 * ]);
 * assert.deepEqual(error.repositoryUniqueIds, ["1.2.3.4"]);
 * assert.match(error.message, /1\.2\.3\.4 \(12 instances in 2 series\)/);
 * ```
 */
export class UnknownSourceError extends Rad69Error {
  /** The Retrieve Location UIDs without an endpoint. */
  readonly repositoryUniqueIds: readonly string[];

  /**
   * Creates the error.
   *
   * @param missing Each unmapped source with what it holds.
   */
  constructor(
    missing: readonly {
      repositoryUniqueId: string;
      homeCommunityId?: string | undefined;
      instances: number;
      series: number;
    }[],
  ) {
    const list = missing.map((m) =>
      `${m.repositoryUniqueId}${
        m.homeCommunityId ? ` of community ${m.homeCommunityId}` : ""
      } (${m.instances} instances in ${m.series} series)`
    ).join(", ");
    super(
      `No imaging document source endpoint for Retrieve Location UID ${list}: map each with sources (--source UID=URL) or give one url for all (--url)`,
    );
    this.name = "UnknownSourceError";
    this.repositoryUniqueIds = missing.map((m) => m.repositoryUniqueId);
  }
}

/**
 * A Key Object Selection (KOS) manifest cannot be read: the bytes are not a
 * DICOM file, not a KOS, or an attribute the XDS-I.b references need is
 * missing or malformed. The message names the file and the tag path, e.g.
 * `manifest.dcm: (0040,A375)[2] > (0008,1115)[0]: no Series Instance UID`.
 *
 * @example Say where a manifest is broken
 * ```ts
 * import assert from "node:assert/strict";
 * import { KosError, Rad69Error } from "@rad69/client";
 *
 * const error = new KosError("no Series Instance UID", {
 *   file: "manifest.dcm",
 *   tagPath: "(0040,A375)[2] > (0008,1115)[0]",
 * });
 * assert.ok(error instanceof Rad69Error);
 * assert.equal(
 *   error.message,
 *   "manifest.dcm: (0040,A375)[2] > (0008,1115)[0]: no Series Instance UID",
 * );
 * assert.equal(error.tagPath, "(0040,A375)[2] > (0008,1115)[0]");
 * ```
 */
export class KosError extends Rad69Error {
  /** The file the manifest came from, when known. */
  readonly file: string | undefined;
  /** The tag path of the faulty attribute or item; "" for the whole file. */
  readonly tagPath: string;

  /**
   * Creates the error.
   *
   * @param reason What is wrong.
   * @param options The file, the tag path and the cause.
   */
  constructor(
    reason: string,
    options: Rad69ErrorOptions & { file?: string; tagPath?: string } = {},
  ) {
    const { file, tagPath = "", ...rest } = options;
    super(
      `${file ?? "KOS manifest"}: ${tagPath ? `${tagPath}: ` : ""}${reason}`,
      rest,
    );
    this.name = "KosError";
    this.file = file;
    this.tagPath = tagPath;
  }
}

/**
 * A registry query parameter is malformed: a patient id that is not an
 * XDS CX (`ID^^^&OID&ISO`), a time that is not a DTM, a code without its
 * scheme. Raised before any request is sent.
 *
 * @example A patient id without its assigning authority
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidQueryParameterError } from "@rad69/client";
 * import { assertPatientCx } from "./xds/iti18.ts";
 *
 * assert.throws(() => assertPatientCx("12345", "query.patientId"), (e) => {
 *   assert.ok(e instanceof InvalidQueryParameterError);
 *   assert.equal(e.where, "query.patientId");
 *   assert.match(e.message, /no assigning authority/);
 *   return true;
 * });
 * ```
 */
export class InvalidQueryParameterError extends Rad69Error {
  /** Where the value was found, e.g. `query.patientId`. */
  readonly where: string;
  /** The offending value. */
  readonly value: string;

  /**
   * Creates the error.
   *
   * @param value The offending value.
   * @param where Where it was found.
   * @param reason What is wrong with it.
   */
  constructor(value: string, where: string, reason: string) {
    super(`Invalid query parameter ${where}: "${value}" ${reason}`);
    this.name = "InvalidQueryParameterError";
    this.where = where;
    this.value = value;
  }
}

/**
 * Options of {@linkcode RegistryQueryError}.
 *
 * @example Keep every RegistryError of the answer
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   RegistryQueryError,
 *   type RegistryQueryErrorOptions,
 * } from "@rad69/client";
 *
 * const error = {
 *   code: "XDSRegistryBusy",
 *   context: "Try later",
 *   location: "",
 *   severity: "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error",
 *   isWarning: false,
 * };
 * const options: RegistryQueryErrorOptions = {
 *   ...error,
 *   errors: [error],
 *   status: "Failure",
 * };
 * const e = new RegistryQueryError("Registry refused the query", options);
 * assert.equal(e.code, "XDSRegistryBusy");
 * assert.equal(e.errors.length, 1);
 * ```
 */
export interface RegistryQueryErrorOptions extends Rad69ServerErrorOptions {
  /** Every RegistryError (and warning) of the answer. */
  errors: readonly RegistryError[];
  /** The answer's status ("Failure", "PartialSuccess"). */
  status: string;
}

/**
 * A registry (ITI-18) or a responding gateway (ITI-38) answered a query
 * with status Failure. `code`, `context`, `location` and `severity` are
 * those of its first error; `errors` lists them all.
 *
 * @example A registry that refuses the query
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryQueryError } from "@rad69/client";
 * import { findDocuments } from "./xds/iti18.ts";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 *
 * await using registry = await FakeXdsRegistry.start({
 *   plan: { registryError: { code: "XDSRegistryError", context: "DB down" } },
 * });
 * await assert.rejects(
 *   findDocuments({ patientId: "P1^^^&1.2.3&ISO" }, {
 *     url: registry.url,
 *     retries: 0,
 *   }),
 *   (e) => {
 *     assert.ok(e instanceof RegistryQueryError);
 *     assert.equal(e.code, "XDSRegistryError");
 *     assert.equal(e.context, "DB down");
 *     return true;
 *   },
 * );
 * ```
 */
export class RegistryQueryError extends Rad69ServerError {
  /** Every RegistryError (and warning) of the answer. */
  readonly errors: readonly RegistryError[];
  /** The answer's status ("Failure", "PartialSuccess"). */
  readonly status: string;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options The first error's fields, all errors, the status.
   */
  constructor(message: string, options: RegistryQueryErrorOptions) {
    super(message, options);
    this.name = "RegistryQueryError";
    this.errors = options.errors;
    this.status = options.status;
  }
}

/**
 * The registry found more entries than it is willing to return
 * (`XDSTooManyResults`): narrow the query (a service time range, a format
 * code) and ask again.
 *
 * @example A registry with too many entries for the patient
 * ```ts
 * import assert from "node:assert/strict";
 * import { XDSTooManyResultsError } from "@rad69/client";
 * import { findDocuments } from "./xds/iti18.ts";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 *
 * await using registry = await FakeXdsRegistry.start({
 *   plan: { tooManyResults: true },
 * });
 * await assert.rejects(
 *   findDocuments({ patientId: "P1^^^&1.2.3&ISO" }, { url: registry.url }),
 *   XDSTooManyResultsError,
 * );
 * ```
 */
export class XDSTooManyResultsError extends RegistryQueryError {
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options The first error's fields, all errors, the status.
   */
  constructor(message: string, options: RegistryQueryErrorOptions) {
    super(message, options);
    this.name = "XDSTooManyResultsError";
  }
}

/**
 * Writing an instance's file failed: the disk is full (`ENOSPC`, `EDQUOT`),
 * the device failed (`EIO`), the folder is read-only (`EROFS`) or refused
 * (`EACCES`, `EPERM`). The instance is reported failed with this error and
 * no temporary file is left behind. After `ENOSPC`, `EDQUOT`, `EROFS` or
 * `EIO` (`stopsDownload`), nothing more is requested: every instance not
 * yet settled fails with such an error too.
 *
 * @example Tell a full disk from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileWriteError } from "@rad69/client";
 *
 * const e = new FileWriteError(
 *   `Cannot write "out/1.2/1.2.3/1.2.3.4.dcm": No space left on device`,
 *   { code: "ENOSPC", path: "out/1.2/1.2.3/1.2.3.4.dcm" },
 * );
 * assert.equal(e.code, "ENOSPC");
 * assert.ok(e.stopsDownload);
 * ```
 */
export class FileWriteError extends Rad69Error {
  /** The system error code (`ENOSPC`, `EIO`, `EACCES`…), or `""`. */
  readonly code: string;
  /** The file that could not be written. */
  readonly path: string;
  /** Whether the download stops requesting more (disk full, device error). */
  readonly stopsDownload: boolean;

  /**
   * Creates the error.
   *
   * @param message What could not be written, and why.
   * @param options The code, the path, the cause and the instance.
   */
  constructor(
    message: string,
    options: Rad69ErrorOptions & { code: string; path: string },
  ) {
    super(message, options);
    this.name = "FileWriteError";
    this.code = options.code;
    this.path = options.path;
    this.stopsDownload = ["ENOSPC", "EDQUOT", "EROFS", "EIO"].includes(
      options.code,
    );
  }
}

/**
 * Another download is writing into the same folder: a folder takes one
 * download at a time (an exclusive OS lock on `<dir>/.rad69/lock`, held for
 * the whole download and released when the process ends, however it ends).
 * Nothing was requested or written. The CLI exits with status 2.
 *
 * @example Tell a busy folder from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutDirLockedError, Rad69Error } from "@rad69/client";
 *
 * const e = new OutDirLockedError(
 *   `Another download is writing into "out" (process 4242)`,
 *   { dir: "out" },
 * );
 * assert.ok(e instanceof Rad69Error);
 * assert.equal(e.dir, "out");
 * ```
 */
export class OutDirLockedError extends Rad69Error {
  /** The folder. */
  readonly dir: string;

  /**
   * Creates the error.
   *
   * @param message Which folder, and who holds it.
   * @param options The folder and the cause.
   */
  constructor(message: string, options: Rad69ErrorOptions & { dir: string }) {
    super(message, options);
    this.name = "OutDirLockedError";
    this.dir = options.dir;
  }
}
