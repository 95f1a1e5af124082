/**
 * A Deno client for IHE RAD-69 "Retrieve Imaging Document Set": it asks a
 * PACS or VNA (an Imaging Document Source) for DICOM instances in one SOAP
 * request and streams the MTOM/XOP multipart answer back as DICOM datasets,
 * accounting for every instance it asked for: each one is delivered, or
 * reported failed with its reason. Nothing is dropped silently.
 *
 * The multipart answer is split by a SIMD delimiter scanner compiled from
 * Rust to WebAssembly (a pure TypeScript engine is available too), and the
 * DICOM parts are decoded with `dicom-parser`.
 *
 * The examples run against the bundled fake server
 * (`@rad69/client/testing`); against a PACS, `url` is its RAD-69 endpoint,
 * e.g. `https://pacs:8443/dcm4chee-arc/xdsi/ImagingDocumentSource`.
 *
 * @example Stream the datasets of a series
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 3 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({ url: server.url });
 * const refs = study.map(({ studyUid, seriesUid, instanceUid }) => ({
 *   studyUid,
 *   seriesUid,
 *   instanceUid,
 * }));
 * const modalities: string[] = [];
 * for await (const instance of client.datasets(refs)) {
 *   modalities.push(instance.dataset.string("x00080060") ?? "");
 * }
 * assert.deepEqual(modalities, ["CT", "CT", "CT"]);
 * ```
 *
 * @example Account for every instance
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 3 });
 * await using server = await FakeRad69Server.start({
 *   instances: study.slice(0, 2), // the third one is missing
 * });
 * const client = new Rad69Client({ url: server.url });
 * const failed: string[] = [];
 * for await (const outcome of client.retrieve(study)) {
 *   if (outcome.status === "failed") failed.push(outcome.error.name);
 * }
 * assert.deepEqual(failed, ["XDSMissingDocumentError"]);
 * ```
 *
 * @module
 */

export { Rad69Client } from "./src/client.ts";
export type { ErrorClass, Rad69ClientOptions } from "./src/client.ts";
export type {
  AttemptReport,
  ExchangeOutcome,
  InstanceOutcome,
  RetrieveCallOptions,
} from "./src/outcome.ts";
export type { ResponseLimits } from "./src/retrieve_batch.ts";
export type { UnauthorizedEvent } from "./src/exchange/auth_types.ts";
export type {
  DocumentSink,
  OpenInstanceSink,
} from "./src/exchange/transaction.ts";
export { createTlsHttpClient } from "./src/tls.ts";
export type { Rad69TlsOptions } from "./src/tls.ts";
export { assertUid } from "./src/references.ts";
export type {
  ChildInstance,
  ChildSeries,
  InstanceReference,
  Rad69Reference,
  SeriesReference,
  StudyReference,
} from "./src/reference_types.ts";
export { Rad69Instance } from "./src/instance.ts";
export { parseInstanceList, readInstanceList } from "./src/instance_list.ts";
export type { ParseInstanceListOptions } from "./src/instance_list.ts";
export { decodeInstance } from "./src/dicom.ts";
export type { DicomValue } from "./src/attributes.ts";
export type { DicomDataSet } from "./src/dicom.ts";
export type {
  DeliveredEntry,
  DownloadEntry,
  DownloadOptions,
  DownloadProgress,
  DownloadReport,
  FailedEntry,
  SkippedEntry,
} from "./src/download.ts";
export { layoutFromTemplate, sanitizePathComponent } from "./src/layout.ts";
export type { DownloadLayout, LayoutInstance } from "./src/layout.ts";
export type { Rad69Logger } from "./src/logger.ts";
export * from "./src/errors.ts";
export {
  buildRetrieveRequest,
  DEFAULT_TRANSFER_SYNTAXES,
  RAD69_ACTION,
} from "./src/soap/request.ts";
export type {
  BuildRetrieveRequestOptions,
  RetrieveRequest,
} from "./src/soap/request.ts";
export { findSoapFault, parseRetrieveResponse } from "./src/soap/response.ts";
export type { ParseRetrieveResponseOptions } from "./src/soap/response.ts";
export type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
  RetrieveStatus,
} from "./src/soap/types.ts";
export {
  type ManifestEntry,
  type ManifestInput,
  type SourceSummary,
  type XdsDownloadReport,
  XdsImagingConsumer,
  type XdsImagingConsumerOptions,
  type XdsPlan,
} from "./src/xds/consumer.ts";
export type { SourceEndpoint, SourcePlan } from "./src/xds/source_plan.ts";
export { MultipartSplitter } from "./src/multipart/multipart_splitter.ts";
export type { MultipartSplitterOptions } from "./src/multipart/multipart_splitter.ts";
export type { MultipartPart } from "./src/multipart/multipart_parser.ts";
export type { ScanEngineKind } from "./src/multipart/engines.ts";
