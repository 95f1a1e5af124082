/**
 * ITI-43 Retrieve Document Set (and ITI-39 Cross Gateway Retrieve) as a
 * transaction of the exchange core: the same transport, MTOM answer
 * reading, Content-ID mapping, per-document accounting, limits and retries
 * as RAD-69; only the request body and what a delivered document becomes
 * differ.
 *
 * @module
 */

import { type ExchangeOptions, resolveExchangeConfig } from "../config.ts";
import { LimitExceededError, type Rad69ServerError } from "../errors.ts";
import { registryErrorOf } from "../exchange/registry_error.ts";
import { collectInMemory, type Transaction } from "../exchange/transaction.ts";
import type { ExchangeOutcome } from "../outcome.ts";
import { assertUid } from "../references.ts";
import { retryExchange } from "../retry.ts";
import {
  assertText,
  buildSoapRequest,
  documentRequestXml,
  type RetrieveRequest,
} from "../soap/envelope.ts";
import { parseRetrieveResponse } from "../soap/response.ts";
import type { RegistryError } from "../soap/types.ts";

/** The `wsa:Action` of an ITI-43 Retrieve Document Set request. */
export const ITI43_ACTION = "urn:ihe:iti:2007:RetrieveDocumentSet";

/** The `wsa:Action` of an ITI-39 Cross Gateway Retrieve request. */
export const ITI39_ACTION = "urn:ihe:iti:2007:CrossGatewayRetrieve";

const XDSB_NS = "urn:ihe:iti:xds-b:2007";

/**
 * One document to retrieve from an XDS repository.
 *
 * @example Name a KOS manifest found by a registry query
 * ```ts
 * import type { DocumentReference } from "@rad69/client/xds";
 *
 * const manifest: DocumentReference = {
 *   repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
 *   documentUniqueId: "1.2.826.0.1.3680043.2.1125.1.99",
 * };
 * ```
 */
export interface DocumentReference {
  /** The repository that holds it (the DocumentEntry's repositoryUniqueId). */
  readonly repositoryUniqueId: string;
  /** Its uniqueId (for a KOS, its SOP Instance UID). */
  readonly documentUniqueId: string;
  /** Its community (the DocumentEntry's `home`), across gateways. */
  readonly homeCommunityId?: string | undefined;
}

/** A document that arrived. */
export interface RetrievedDocument {
  /** What was requested. */
  readonly ref: DocumentReference;
  /** The exact bytes the repository sent. */
  readonly bytes: Uint8Array;
  /** The mimeType the repository declared (`application/dicom` for a KOS). */
  readonly mimeType: string;
  /** The RepositoryUniqueId the repository answered with. */
  readonly repositoryUniqueId: string;
  /** The HomeCommunityId the answer carried, if any. */
  readonly homeCommunityId?: string | undefined;
  /** Warnings the repository reported for this document or the request. */
  readonly warnings: readonly RegistryError[];
}

/** One requested document's outcome: delivered, or failed with a reason. */
export type DocumentOutcome = ExchangeOutcome<
  DocumentReference,
  RetrievedDocument
>;

/** Options of {@linkcode buildRetrieveDocumentSetRequest}. */
export interface BuildRetrieveDocumentSetOptions {
  /** The repository's (or gateway's) endpoint, sent as `wsa:To`. */
  url: string;
  /** `true` for ITI-39 (every DocumentRequest needs a HomeCommunityId). */
  crossGateway?: boolean;
  /** `false` sends the WS-Addressing headers without mustUnderstand. */
  addressingMustUnderstand?: boolean;
  /** A `<wsse:Security>` element, inserted byte for byte. */
  securityHeader?: string;
  /** `true` to send an MTOM/XOP package. */
  mtom?: boolean;
  /** The `wsa:MessageID`. Meant for tests. */
  messageId?: string;
}

/**
 * Builds an ITI-43 `RetrieveDocumentSetRequest` (or, with `crossGateway`,
 * ITI-39): one `xdsb:DocumentRequest` per document, each with its own
 * RepositoryUniqueId and, when known, HomeCommunityId (all or none).
 *
 * @param docs The documents (at least one).
 * @param options The endpoint and framing.
 * @returns The request.
 * @throws {InvalidUidError} When a UID is malformed; `where` names it, e.g.
 * `docs[1].repositoryUniqueId`.
 * @throws {TypeError} When `docs` is empty, or only some documents carry a
 * HomeCommunityId (or, for ITI-39, one lacks it).
 *
 * @example Ask a repository for one KOS manifest
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   buildRetrieveDocumentSetRequest,
 *   ITI43_ACTION,
 * } from "@rad69/client/xds";
 *
 * const request = buildRetrieveDocumentSetRequest(
 *   [{ repositoryUniqueId: "1.2.3", documentUniqueId: "1.2.3.4.5" }],
 *   { url: "https://xds.example/repository" },
 * );
 * assert.ok(request.contentType.includes(`action="${ITI43_ACTION}"`));
 * assert.ok(request.xml.includes(">1.2.3.4.5</xdsb:DocumentUniqueId>"));
 * ```
 */
export function buildRetrieveDocumentSetRequest(
  docs: readonly DocumentReference[],
  options: BuildRetrieveDocumentSetOptions,
): RetrieveRequest {
  const crossGateway = options.crossGateway ?? false;
  const what = crossGateway ? "ITI-39 request" : "ITI-43 request";
  if (!Array.isArray(docs) || docs.length === 0) {
    throw new TypeError(`Cannot build ${what}: no documents given`);
  }
  const withCommunity = docs.findIndex((d) => d?.homeCommunityId !== undefined);
  const withoutCommunity = docs.findIndex((d) =>
    d?.homeCommunityId === undefined
  );
  if (crossGateway && withoutCommunity >= 0) {
    throw new TypeError(
      `Cannot build ${what}: docs[${withoutCommunity}] has no homeCommunityId; a cross-gateway retrieve needs one on every DocumentRequest`,
    );
  }
  if (withCommunity >= 0 && withoutCommunity >= 0) {
    throw new TypeError(
      `Cannot build ${what}: docs[${withoutCommunity}] has no homeCommunityId while docs[${withCommunity}] has one; ITI-43 requires every DocumentRequest or none to carry one`,
    );
  }
  const parts = [
    `<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="${XDSB_NS}">`,
  ];
  docs.forEach((doc, i) => {
    const where = `docs[${i}]`;
    if (doc === null || typeof doc !== "object") {
      throw new TypeError(
        `Cannot build ${what}: ${where} is not a document reference`,
      );
    }
    assertUid(doc.repositoryUniqueId, `${where}.repositoryUniqueId`);
    assertUid(doc.documentUniqueId, `${where}.documentUniqueId`);
    if (doc.homeCommunityId !== undefined) {
      assertText(doc.homeCommunityId, `${where}.homeCommunityId`);
    }
    parts.push(documentRequestXml(doc, `${where}.homeCommunityId`, what));
  });
  parts.push("</xdsb:RetrieveDocumentSetRequest>");
  return buildSoapRequest({
    action: crossGateway ? ITI39_ACTION : ITI43_ACTION,
    url: options.url,
    body: parts.join(""),
    what,
    messageId: options.messageId,
    addressingMustUnderstand: options.addressingMustUnderstand,
    securityHeader: options.securityHeader,
    mtom: options.mtom,
  });
}

/** Turns a RegistryError about a document into its error. */
function documentError(
  error: RegistryError,
  ref: DocumentReference,
): Rad69ServerError {
  const detail = error.context ? `: ${error.context}` : "";
  const where = ` in repository ${ref.repositoryUniqueId}${
    ref.homeCommunityId ? ` of community ${ref.homeCommunityId}` : ""
  }`;
  return registryErrorOf(error, {
    notFound:
      `Document "${ref.documentUniqueId}" not found${where} (${error.code}${detail})`,
    reported:
      `Repository reported ${error.code} for document "${ref.documentUniqueId}"${where}${detail}`,
  });
}

/** ITI-43 (or ITI-39), as the exchange core carries it. */
export const ITI43_TRANSACTION: Transaction<
  DocumentReference,
  RetrievedDocument
> = Object.freeze<Transaction<DocumentReference, RetrievedDocument>>({
  name: "ITI-43",
  noun: "document",
  key: (ref) => ref.documentUniqueId,
  buildRequest: (refs, settings, url, extras) =>
    buildRetrieveDocumentSetRequest(refs, {
      url,
      crossGateway: settings.crossGateway,
      addressingMustUnderstand: settings.addressingMustUnderstand,
      ...(settings.mtom !== undefined ? { mtom: settings.mtom } : {}),
      ...(extras.securityHeader !== undefined
        ? { securityHeader: extras.securityHeader }
        : {}),
    }),
  readRoot: (xml, httpStatus) => parseRetrieveResponse(xml, { httpStatus }),
  open: (ref, doc, settings) =>
    collectInMemory(
      settings.maxDatasetSize,
      () =>
        new LimitExceededError(
          "maxDatasetSize",
          settings.maxDatasetSize,
          `Document "${ref.documentUniqueId}"`,
        ),
      (bytes, warnings) => ({
        ref,
        bytes,
        mimeType: doc.mimeType,
        repositoryUniqueId: doc.repositoryUniqueId,
        ...(doc.homeCommunityId !== undefined
          ? { homeCommunityId: doc.homeCommunityId }
          : {}),
        warnings,
      }),
    ),
  community: (ref) => ref.homeCommunityId,
  errorOptions: () => ({}),
  registryError: documentError,
});

/**
 * Retrieves documents from an XDS repository with ITI-43 (ITI-39 with
 * `crossGateway: true`): one request for all of them, streamed, with the
 * retries, limits and log-in hooks of the exchange core. Yields one
 * outcome per distinct document, never throws for a server, protocol or
 * network failure (those fail the documents concerned); throws only when
 * `signal` aborts or the options are invalid.
 *
 * @param docs The documents.
 * @param options The repository endpoint and how to talk to it.
 * @returns One outcome per document, delivered ones as they arrive.
 *
 * @example Fetch a document from the fake server, acting as a repository
 * ```ts
 * import assert from "node:assert/strict";
 * import { retrieveDocuments } from "@rad69/client/xds";
 * import { buildDicomInstance, FakeRad69Server } from "@rad69/client/testing";
 *
 * const uids = { studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid: "1.2.3.99" };
 * const bytes = buildDicomInstance(uids);
 * await using repository = await FakeRad69Server.start({
 *   instances: [{ ...uids, bytes }],
 * });
 * const [outcome] = await Array.fromAsync(retrieveDocuments(
 *   [{ repositoryUniqueId: "1.3.6.1.4.1000", documentUniqueId: "1.2.3.99" }],
 *   { url: repository.url },
 * ));
 * assert.ok(outcome!.status === "delivered");
 * assert.deepEqual(outcome.instance.bytes, bytes);
 * assert.equal(outcome.instance.mimeType, "application/dicom");
 * ```
 */
export function retrieveDocuments(
  docs: readonly DocumentReference[],
  options: ExchangeOptions,
): AsyncGenerator<DocumentOutcome, void, undefined> {
  return retryExchange(
    ITI43_TRANSACTION,
    docs,
    resolveExchangeConfig(options),
  );
}
