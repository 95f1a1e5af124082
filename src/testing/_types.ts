/**
 * Public types of the fake RAD-69 server (re-exported by `fake_server.ts`).
 *
 * @module
 */

import type { FakeAuthOptions } from "./_auth.ts";
export type { FakeAuthOptions } from "./_auth.ts";

/**
 * How the fake server frames its answers, each imitating a real server (see
 * the protocol notes):
 *
 * - `"cxf"`: dcm4chee-arc (Apache CXF). Boundary `"uuid:<uuid>"` (quoted),
 *   a leading CRLF, root `<root.message@cxf.apache.org>`, part ids
 *   `<uuid-N@urn:ihe:iti:xds-b:2007>` with percent-encoded hrefs
 *   (`cid:uuid-N@urn%3Aihe%3Aiti%3Axds-b%3A2007`), quoted bracketed `start`,
 *   Failure as a one-part multipart. Not found: `XDSMissingDocument`,
 *   `"DICOM Object not found"`, location = SOP UID.
 * - `"vitrea"`: Canon Vitrea. JavaMail boundary `----=_Part_…`, `Content-Id`
 *   on the root and `Content-ID` on parts, part ids without angle brackets.
 *   When nothing is found: a plain `application/soap+xml` Failure with HTTP
 *   200 and `"Unable to locate SOP from MINT."`.
 * - `"nist"`: the NIST toolkit simulator. Boundary
 *   `MIMEBoundary112233445566778899`, cids `doc0@ihexds.nist.gov` (root) and
 *   `docN@ihexds.nist.gov`, parts in hash order, PartialSuccess/Failure with
 *   no RegistryErrorList for missing documents; when it sends errors
 *   (repository), `location` is empty and the UID is in `codeContext`.
 * - `"axis2"`: Axis2 (PS3.18 Annex E). Unbracketed `start=`, `:` left
 *   unencoded in hrefs (`cid:1.urn:uuid:…@apache.org`), an `action`
 *   parameter on the Content-Type.
 * - `"wcf"`: .NET WCF. Boundary `uuid:…+id=1`, `@` written `%40` in hrefs
 *   only, headers in the order Content-ID, Content-Transfer-Encoding,
 *   Content-Type.
 * - `"form-data"`: dicomtrolley's own mock: `multipart/form-data` with
 *   `Content-Disposition` headers, no Content-IDs and no `start` (clients must
 *   map parts by order).
 * - `"inline"`: plain `application/soap+xml` with inline base64 Documents.
 *
 * Requests are read the same way whatever the dialect, and accept what
 * conforming SOAP 1.2 stacks send (tests in `tests/fake_server_framing_test.ts`;
 * the framings are listed in `docs/interop.md`):
 *
 * - plain `application/soap+xml`, with or without `charset` and `action`;
 * - MTOM `multipart/related` with `type="application/xop+xml"`, `start`
 *   bracketed, bare or absent (then the first part is the root),
 *   `start-info` bare or carrying parameters, `action` on the outer
 *   Content-Type or not;
 * - a root part `application/xop+xml` whose `type` carries media-type
 *   parameters: JAX-WS RI (Metro) sends
 *   `type="application/soap+xml;action=\"urn:ihe:rad:2009:RetrieveImagingDocumentSet\""`
 *   (and the same in `start-info`); `charset` may sit there too;
 * - quoted or bare parameter values, any case of names and media types,
 *   any charset `TextDecoder` knows.
 *
 * Every `action` found (outer Content-Type, `start-info`, the root part's
 * `type`) must equal `wsa:Action` (Fault subcode `wsa:ActionMismatch`);
 * `wsa:Action` itself is required and must be the RAD-69 action
 * (`wsa:MessageAddressingHeaderRequired`, `wsa:ActionNotSupported`). A
 * multipart request without the `start` part, a SOAP 1.1 envelope, or
 * `text/xml` as the Content-Type, `start-info` or root `type` is refused
 * with a precise Fault (`env:VersionMismatch` for SOAP 1.1).
 *
 * @example The same retrieval from three imitated servers
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   type FakeDialect,
 *   FakeRad69Server,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * const dialects: FakeDialect[] = ["cxf", "vitrea", "nist"];
 * for (const dialect of dialects) {
 *   await using server = await FakeRad69Server.start({ instances: study, dialect });
 *   const client = new Rad69Client({ url: server.url });
 *   const got = await Array.fromAsync(client.datasets(study));
 *   assert.equal(got.length, 2, dialect);
 * }
 * ```
 */
export type FakeDialect =
  | "cxf"
  | "vitrea"
  | "nist"
  | "axis2"
  | "wcf"
  | "form-data"
  | "inline";

/**
 * An instance the fake server holds.
 *
 * @example Serve an instance built by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   buildDicomInstance,
 *   type FakeInstance,
 *   FakeRad69Server,
 * } from "@rad69/client/testing";
 *
 * const uids = { studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.4.5" };
 * const instance: FakeInstance = { ...uids, bytes: buildDicomInstance(uids) };
 * await using server = await FakeRad69Server.start({ instances: [instance] });
 * const client = new Rad69Client({ url: server.url });
 * const got = await client.getDataset(uids);
 * assert.deepEqual(got.bytes, instance.bytes);
 * ```
 */
export interface FakeInstance {
  /** Study Instance UID. */
  readonly studyUid: string;
  /** Series Instance UID. */
  readonly seriesUid: string;
  /** SOP Instance UID (the DocumentUniqueId). */
  readonly instanceUid: string;
  /** The DICOM Part-10 file. */
  readonly bytes: Uint8Array;
}

/**
 * One DocumentRequest as the fake server read it.
 *
 * @example Check the DocumentRequests sent
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   FakeRad69Server,
 *   type RequestedDocument,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({
 *   url: server.url,
 *   repositoryUniqueId: "1.2.840.99.1",
 * });
 * await client.getDataset(study[0]!);
 * const [doc]: readonly RequestedDocument[] = server.requests[0]!.documents;
 * assert.equal(doc!.documentUniqueId, study[0]!.instanceUid);
 * assert.equal(doc!.repositoryUniqueId, "1.2.840.99.1");
 * assert.equal(doc!.homeCommunityId, undefined);
 * ```
 */
export interface RequestedDocument {
  /** `@studyInstanceUID` of the enclosing StudyRequest. */
  readonly studyUid: string;
  /** `@seriesInstanceUID` of the enclosing SeriesRequest. */
  readonly seriesUid: string;
  /** `xdsb:DocumentUniqueId`. */
  readonly documentUniqueId: string;
  /** `xdsb:RepositoryUniqueId`. */
  readonly repositoryUniqueId: string;
  /** `xdsb:HomeCommunityId`, when sent. */
  readonly homeCommunityId?: string;
}

/**
 * A request the fake server received, as recorded in `server.requests`.
 *
 * @example Inspect what the client sent
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   FakeRad69Server,
 *   type RecordedRequest,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({ url: server.url, mtom: true });
 * await Array.fromAsync(client.datasets(study));
 * const request: RecordedRequest = server.requests[0]!;
 * assert.ok(request.valid);
 * assert.ok(request.mtom);
 * assert.equal(request.to, server.url);
 * assert.deepEqual(request.documentUniqueIds, study.map((i) => i.instanceUid));
 * ```
 */
export interface RecordedRequest {
  /** 0-based position among the requests this server received. */
  readonly index: number;
  /** HTTP method. */
  readonly method: string;
  /** Full request URL. */
  readonly url: string;
  /** Request headers. */
  readonly headers: Headers;
  /** The Content-Type header, or "" when absent. */
  readonly contentType: string;
  /** The raw body, decoded as UTF-8 (lossy for binary parts). */
  readonly body: string;
  /** The SOAP envelope text (the root part of an MTOM request). */
  readonly soapXml: string;
  /** `true` when the request was MTOM-packaged (multipart/related). */
  readonly mtom: boolean;
  /** `true` when the request passed validation. */
  readonly valid: boolean;
  /** Why the request was rejected, when it was. */
  readonly validationError?: string;
  /** `wsa:Action` text, exactly as sent. */
  readonly action?: string;
  /** `wsa:MessageID`. */
  readonly messageId?: string;
  /** `wsa:To`. */
  readonly to?: string;
  /** Every DocumentRequest, in request order. */
  readonly documents: readonly RequestedDocument[];
  /** Distinct Study Instance UIDs, in request order. */
  readonly studyUids: readonly string[];
  /** Distinct Series Instance UIDs, in request order. */
  readonly seriesUids: readonly string[];
  /** DocumentUniqueIds (SOP Instance UIDs), in request order. */
  readonly documentUniqueIds: readonly string[];
  /** Distinct RepositoryUniqueIds, in request order. */
  readonly repositoryUniqueIds: readonly string[];
  /** Distinct HomeCommunityIds, in request order. */
  readonly homeCommunityIds: readonly string[];
  /** TransferSyntaxUIDs, in request order. */
  readonly transferSyntaxes: readonly string[];
}

/**
 * A RegistryError the fake server adds to its answer.
 *
 * @example A warning next to a delivered instance
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   FakeRad69Server,
 *   type FakeRegistryError,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const warning: FakeRegistryError = {
 *   code: "XDSRegistryMetadataError",
 *   context: "Transfer syntax changed",
 *   location: study[0]!.instanceUid,
 *   severity: "Warning",
 * };
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   plan: { status: "Success", errors: [warning] },
 * });
 * const client = new Rad69Client({ url: server.url });
 * const instance = await client.getDataset(study[0]!);
 * assert.deepEqual(instance.warnings.map((w) => w.code), [warning.code]);
 * ```
 */
export interface FakeRegistryError {
  /** `@errorCode`, e.g. `"XDSDocumentUniqueIdError"`. */
  readonly code: string;
  /**
   * `@codeContext`.
   *
   * @default {"Fake server error"}
   */
  readonly context?: string;
  /**
   * `@location`; usually the SOP Instance UID.
   *
   * @default {""}
   */
  readonly location?: string;
  /**
   * `"Error"`, `"Warning"` or a full severity URN.
   *
   * @default {"Error"}
   */
  readonly severity?: string;
}

/**
 * A SOAP 1.2 Fault answer.
 *
 * @example A Sender Fault is not retried
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, SoapFaultError } from "@rad69/client";
 * import {
 *   FakeRad69Server,
 *   type FakeSoapFault,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const fault: FakeSoapFault = { code: "Sender", reason: "Malformed request" };
 * server.enqueue({ soapFault: fault });
 * const client = new Rad69Client({ url: server.url });
 * const [outcome] = await Array.fromAsync(client.retrieve(study));
 * assert.ok(outcome!.status === "failed");
 * assert.ok(outcome.error instanceof SoapFaultError);
 * assert.equal(outcome.error.reason, "Malformed request");
 * assert.equal(outcome.error.status, 400);
 * assert.equal(server.requests.length, 1);
 * ```
 */
export interface FakeSoapFault {
  /**
   * `env:Code/env:Value` local name.
   *
   * @default {"Receiver"}
   */
  readonly code?:
    | "Sender"
    | "Receiver"
    | "MustUnderstand"
    | "VersionMismatch"
    | "DataEncodingUnknown";
  /**
   * `env:Subcode/env:Value` as a QName. The prefixes `wsa:` (WS-Addressing),
   * `wsse:` (WS-Security 1.0) and `env:` (SOAP 1.2) are declared; any other
   * prefix is bound to `urn:rad69:fake`.
   */
  readonly subcode?: string;
  /**
   * `env:Reason/env:Text`.
   *
   * @default {"Fake server fault"}
   */
  readonly reason?: string;
  /** Text of an `env:Detail` element, when wanted. */
  readonly detail?: string;
  /**
   * HTTP status.
   *
   * @default {400} for `Sender`, 500 otherwise (like the SOAP 1.2 HTTP binding)
   */
  readonly status?: number;
  /**
   * Send the fault as a one-part MTOM multipart (CXF with MTOM on) instead
   * of plain `application/soap+xml`.
   *
   * @default {false}
   */
  readonly multipart?: boolean;
}

/**
 * A raw HTTP answer that replaces the RAD-69 answer.
 *
 * @example An HTTP 401 from a proxy
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, Rad69HttpError } from "@rad69/client";
 * import {
 *   type FakeHttpReply,
 *   FakeRad69Server,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const reply: FakeHttpReply = { status: 401, body: "<h1>Login required</h1>" };
 * server.enqueue({ http: reply });
 * const client = new Rad69Client({ url: server.url });
 * const [outcome] = await Array.fromAsync(client.retrieve(study));
 * assert.ok(outcome!.status === "failed");
 * assert.ok(outcome.error instanceof Rad69HttpError);
 * assert.equal(outcome.error.status, 401);
 * assert.match(outcome.error.bodyExcerpt, /Login required/);
 * ```
 */
export interface FakeHttpReply {
  /** HTTP status, e.g. 401, 502, 503. */
  readonly status: number;
  /**
   * Body text or bytes.
   *
   * @default {""}
   */
  readonly body?: string | Uint8Array;
  /**
   * Extra response headers, e.g. `{ "retry-after": "2" }`.
   *
   * @default {"content-type": "text/html; charset=utf-8"} when a body is set
   */
  readonly headers?: HeadersInit;
}

/**
 * An unreferenced extra MIME part.
 *
 * @example An unreferenced part before the root is ignored
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   type FakeExtraPart,
 *   FakeRad69Server,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const extraPart: FakeExtraPart = { position: "afterRoot", body: "hello" };
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   plan: { extraPart },
 * });
 * const client = new Rad69Client({ url: server.url });
 * const instance = await client.getDataset(study[0]!);
 * assert.deepEqual(instance.bytes, study[0]!.bytes);
 * ```
 */
export interface FakeExtraPart {
  /**
   * Part Content-Type.
   *
   * @default {"text/plain"}
   */
  readonly contentType?: string;
  /**
   * Part body.
   *
   * @default {"Force MTOM/XOP to make 'important vendor' happy"}
   */
  readonly body?: string | Uint8Array;
  /**
   * Where the part goes.
   *
   * @default {"last"}
   */
  readonly position?: "first" | "afterRoot" | "last";
}

/**
 * What to do to one answer (a "fault plan"). Every field is optional; an
 * empty plan gives the normal answer of the dialect. Plans are merged
 * shallowly, field by field: the server-wide `plan` option, then the next
 * queued plan (`server.enqueue()`), then the plan returned by `onRequest`.
 *
 * Byte offsets (`truncate.at`, `stall.at`) count bytes of the HTTP body (the
 * MIME stream), not of the chunked transfer coding.
 *
 * @example Choose a plan per request with `onRequest`
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   FakeRad69Server,
 *   type FaultPlan,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 2, instancesPerSeries: 2 });
 * const slowSeries = study[0]!.seriesUid;
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   plan: { chunkSize: 512 }, // every answer, in small writes
 *   onRequest: (request): FaultPlan | undefined =>
 *     request.seriesUids.includes(slowSeries)
 *       ? { latencyMs: 20, reorderParts: "reverse" }
 *       : undefined,
 * });
 * const client = new Rad69Client({ url: server.url });
 * let count = 0;
 * for await (const _ of client.datasets(study)) count++;
 * assert.equal(count, 4);
 * ```
 */
export interface FaultPlan {
  /**
   * Answer with this raw HTTP response instead (HTML 401 login page, 502
   * from a proxy, 503 with `Retry-After`…). The request is still recorded;
   * validation is skipped.
   */
  readonly http?: FakeHttpReply;
  /** Answer with this SOAP 1.2 Fault instead (validation is skipped). */
  readonly soapFault?: FakeSoapFault;
  /**
   * Send these bytes as the body instead of the MIME package, with the
   * dialect's normal Content-Type.
   */
  readonly garbage?: string | Uint8Array;

  /** Force the RegistryResponse status (errors are left as computed). */
  readonly status?: "Success" | "PartialSuccess" | "Failure";
  /**
   * Force the exact status URN (e.g. the pre-2017 dcm4chee
   * `urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess`).
   * Wins over `status`.
   */
  readonly statusUrn?: string;
  /**
   * Extra RegistryErrors, appended after the computed ones. A Warning on a
   * delivered instance keeps the status computed from the deliveries.
   */
  readonly errors?: readonly FakeRegistryError[];
  /**
   * Leave out the RegistryErrorList entirely (NIST simulator style).
   *
   * @default {false} (true for missing documents in the "nist" dialect)
   */
  readonly omitRegistryErrors?: boolean;
  /**
   * `errorCode` and `codeContext` used for unknown instances.
   *
   * @default {per dialect} `XDSMissingDocument` / `"DICOM Object not found"`
   * ("cxf", "axis2", "wcf", "form-data", "inline"), `XDSMissingDocument` /
   * `"Unable to locate SOP from MINT."` ("vitrea"),
   * `XDSDocumentUniqueIdError` ("nist")
   */
  readonly notFound?: { readonly code: string; readonly context?: string };
  /**
   * Silently leave out these instances (no DocumentResponse, no part, no
   * error) while the status still counts them as delivered: the dcm4chee 2.x
   * behaviour ("Success" with documents missing).
   */
  readonly omit?: readonly string[];
  /**
   * Part bodies swapped: `{ [requestedUid]: otherUid }` sends the bytes of
   * stored instance `otherUid` in the part of `requestedUid` (its
   * DocumentResponse still names `requestedUid`).
   */
  readonly swap?: Readonly<Record<string, string>>;
  /**
   * These instances' parts carry non-DICOM bytes (an HTML error page);
   * `true` for every part.
   */
  readonly notDicom?: readonly string[] | boolean;

  /**
   * Order of the document parts: `"reverse"`, `"shuffle"` (deterministic),
   * or `"rootLast"` (the SOAP root part after the documents).
   */
  readonly reorderParts?: "reverse" | "shuffle" | "rootLast";
  /** Add an unreferenced part (`true` = a text/plain part after the others). */
  readonly extraPart?: boolean | FakeExtraPart;
  /**
   * Encode document parts with `Content-Transfer-Encoding: base64`
   * (76-character lines).
   *
   * @default {false}
   */
  readonly base64Parts?: boolean;
  /**
   * Give the second document part the same Content-ID as the first (its
   * href then points at no part of its own).
   *
   * @default {false}
   */
  readonly duplicateContentIds?: boolean;
  /**
   * Give the last document part a Content-ID that no href references (its
   * href then points at nothing).
   *
   * @default {false}
   */
  readonly unknownContentId?: boolean;
  /**
   * Line endings of the MIME framing (delimiters and part headers).
   *
   * @default {"crlf"}
   */
  readonly lineEndings?: "crlf" | "lf";
  /** Text before the first delimiter. */
  readonly preamble?: string;
  /** Text after the closing delimiter. */
  readonly epilogue?: string;
  /**
   * End the body after the last part without the closing `--boundary--`.
   *
   * @default {false}
   */
  readonly omitClosingDelimiter?: boolean;
  /**
   * Replace the response Content-Type; `null` sends none.
   */
  readonly contentType?: string | null;
  /**
   * Extra headers on the answer, whatever it is (a SOAP Fault with
   * `Retry-After`, a `Set-Cookie`…). They are added after the answer's own
   * headers and replace those of the same name (except `http` answers,
   * whose own `headers` win).
   */
  readonly responseHeaders?: HeadersInit;
  /**
   * Pad the SOAP root part with an XML comment of this many bytes (a huge
   * root part; streamed, not buffered).
   *
   * @default {0}
   */
  readonly rootPadding?: number;

  /**
   * Delay before the response headers (time to first byte), in ms.
   *
   * @default {0}
   */
  readonly latencyMs?: number;
  /**
   * Bandwidth cap of this response (one response per connection at a
   * time) in bytes per second, by pacing the writes.
   *
   * @default {undefined} (unlimited)
   */
  readonly bytesPerSecond?: number;
  /**
   * Write the body in chunks of at most this many bytes (down to 1).
   *
   * @default {65536}
   */
  readonly chunkSize?: number;
  /**
   * Cut the body after `at` bytes. `mode`:
   * - `"end"` (default): the stream ends cleanly (a proper chunked end), so
   *   the client sees a short but complete HTTP body;
   * - `"abort"`: the stream errors; the HTTP server drops the connection
   *   without the final chunk, so the client's body read fails;
   * - `"reset"`: the same at the HTTP level (Deno's server gives no access to
   *   the socket, so the kernel may send FIN or RST); the client's body read
   *   fails.
   */
  readonly truncate?: {
    readonly at: number;
    readonly mode?: "end" | "abort" | "reset";
  };
  /**
   * Stop sending after `at` bytes for `ms` milliseconds (default: forever;
   * `server.close()` still ends it).
   */
  readonly stall?: { readonly at?: number; readonly ms?: number };
}

/**
 * The per-request hook of {@linkcode FakeRad69ServerOptions.onRequest}.
 *
 * @example Fail the first request only
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import {
 *   FakeRad69Server,
 *   type FakeRequestHook,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const onRequest: FakeRequestHook = (request) =>
 *   request.index === 0 ? { http: { status: 502 } } : undefined;
 * await using server = await FakeRad69Server.start({ instances: study, onRequest });
 * const client = new Rad69Client({ url: server.url, retryBaseDelayMs: 1 });
 * const instance = await client.getDataset(study[0]!);
 * assert.equal(instance.ref.instanceUid, study[0]!.instanceUid);
 * assert.equal(server.requests.length, 2); // the 502 was retried
 * ```
 */
export type FakeRequestHook = (
  request: RecordedRequest,
) => FaultPlan | undefined | Promise<FaultPlan | undefined>;

/**
 * Options of `FakeRad69Server.start()`.
 *
 * @example A strict server that wants MTOM requests
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, SoapFaultError } from "@rad69/client";
 * import {
 *   FakeRad69Server,
 *   type FakeRad69ServerOptions,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * const options: FakeRad69ServerOptions = {
 *   instances: study,
 *   dialect: "wcf",
 *   path: "/xdsi/ImagingDocumentSource",
 *   requireMtom: true,
 * };
 * await using server = await FakeRad69Server.start(options);
 * assert.ok(server.url.endsWith("/xdsi/ImagingDocumentSource"));
 * const plain = new Rad69Client({ url: server.url });
 * await assert.rejects(plain.getDataset(study[0]!), SoapFaultError);
 * const mtom = new Rad69Client({ url: server.url, mtom: true });
 * assert.deepEqual((await mtom.getDataset(study[0]!)).bytes, study[0]!.bytes);
 * ```
 *
 * @example A server that does not process WS-Addressing
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client, SoapFaultError } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   processAddressing: false,
 * });
 * const strict = new Rad69Client({ url: server.url, retries: 0 });
 * await assert.rejects(strict.getDataset(study[0]!), (e) => {
 *   assert.ok(e instanceof SoapFaultError);
 *   assert.match(e.message, /addressingMustUnderstand: false/);
 *   return true;
 * });
 * const lenient = new Rad69Client({
 *   url: server.url,
 *   addressingMustUnderstand: false,
 * });
 * assert.deepEqual((await lenient.getDataset(study[0]!)).bytes, study[0]!.bytes);
 * ```
 */
export interface FakeRad69ServerOptions extends FakeAuthOptions {
  /**
   * Instances to serve: `{ studyUid, seriesUid, instanceUid, bytes }`
   * objects, or raw Part-10 bytes whose UIDs are read with dicom-parser.
   *
   * @default {[]}
   */
  readonly instances?: Iterable<FakeInstance | Uint8Array>;
  /**
   * A directory whose `*.dcm` files (recursively) are served. Their UIDs are
   * read at start; their bytes are streamed from disk for each answer.
   */
  readonly directory?: string;
  /**
   * Framing of the answers.
   *
   * @default {"cxf"}
   */
  readonly dialect?: FakeDialect;
  /**
   * URL path of the endpoint.
   *
   * @default {"/rad69"}
   */
  readonly path?: string;
  /**
   * Host name to listen on (port 0: the system picks one).
   *
   * @default {"127.0.0.1"}
   */
  readonly hostname?: string;
  /**
   * Port to listen on; 0 lets the system pick a free one.
   *
   * @default {0}
   */
  readonly port?: number;
  /**
   * Fault plain `application/soap+xml` requests (strict NIST-like server).
   *
   * @default {false}
   */
  readonly requireMtom?: boolean;
  /**
   * Process the WS-Addressing headers. `false` imitates a server that does
   * not (a JAX-WS RI endpoint published without its AddressingFeature, or an
   * older or minimal IHE actor): a request with a `mustUnderstand`
   * WS-Addressing header (the client's default `wsa:Action` and `wsa:To`) is
   * answered with a SOAP 1.2 `env:MustUnderstand` Fault, HTTP 500, reason
   * "One or more mandatory SOAP header blocks not understood", as Metro
   * does; without `mustUnderstand` the headers are ignored, `wsa:Action` is
   * not required, and only an `action` media-type parameter is checked.
   *
   * @default {true}
   */
  readonly processAddressing?: boolean;
  /**
   * When set, a DocumentRequest with another RepositoryUniqueId gets a
   * Failure `XDSUnknownRepositoryId` error ("Unknown Repository UID [x].
   * Expected [y]") instead of the document.
   */
  readonly expectedRepositoryUniqueId?: string;
  /**
   * Only deliver an instance when the request's study and series UIDs match
   * the stored ones (otherwise it is "not found").
   *
   * @default {true}
   */
  readonly matchHierarchy?: boolean;
  /**
   * Refuse an instance (error `urn:dicom:wado:0007`) unless its stored
   * transfer syntax, Explicit VR LE or Implicit VR LE is in the request's
   * list (dcm4chee-arc's rule; the bytes are never transcoded).
   *
   * @default {true}
   */
  readonly checkTransferSyntax?: boolean;
  /**
   * The plan applied to every answer (merged under queued and hook plans).
   *
   * @default {}
   */
  readonly plan?: FaultPlan;
  /**
   * Called for each request after it is parsed and recorded; the plan it
   * returns is merged over the server-wide and queued plans.
   */
  readonly onRequest?: FakeRequestHook;
  /**
   * Act as a gateway of this community (e.g. `urn:oid:1.2.3`): RAD-75 and
   * ITI-39 requests are served as well as RAD-69 and ITI-43, and every
   * DocumentRequest must carry this HomeCommunityId: one without gets
   * `XDSMissingHomeCommunityId`, one with another gets
   * `XDSUnknownCommunity`, both located by the community.
   */
  readonly homeCommunityId?: string;
}
