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
 * @example Stream the datasets of a series
 * ```ts
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
 * for await (const instance of client.datasets(refs)) {
 *   console.log(instance.ref.instanceUid, instance.dataset.string("x00080060"));
 * }
 * ```
 *
 * @module
 */

export * from "./src/client.ts";
export * from "./src/download.ts";
export * from "./src/concurrent.ts";
export * from "./src/redact.ts";
export * from "./src/errors.ts";
export * from "./src/references.ts";
export * from "./src/instance.ts";
export * from "./src/dicom.ts";
export * from "./src/logger.ts";
export * from "./src/retry.ts";
export * from "./src/retrieve_batch.ts";
export * from "./src/soap/types.ts";
export * from "./src/soap/request.ts";
export * from "./src/soap/response.ts";
export * from "./src/multipart/content_type.ts";
export * from "./src/multipart/content_id.ts";
export * from "./src/multipart/part_headers.ts";
export * from "./src/multipart/scan_engine.ts";
export * from "./src/multipart/engines.ts";
export * from "./src/multipart/multipart_parser.ts";
export * from "./src/multipart/multipart_splitter.ts";
