/**
 * Test helpers for RAD-69 clients: a fake Imaging Document Source
 * ({@linkcode FakeRad69Server}) that validates and records requests, answers
 * in the framing of real servers (dcm4chee-arc/CXF, Vitrea, NIST, Axis2,
 * WCF, dicomtrolley's form-data mock, inline base64) and injects faults
 * ({@linkcode FaultPlan}); and builders of valid DICOM Part-10 instances
 * ({@linkcode buildDicomInstance}, {@linkcode syntheticStudy}) and of KOS
 * manifests ({@linkcode buildKos}); and a fake XDS registry or responding
 * gateway ({@linkcode FakeXdsRegistry}: ITI-18 / ITI-38 FindDocuments)
 * holding DocumentEntries.
 *
 * @example Test a client against a fake dcm4chee-arc
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 2, instancesPerSeries: 3 });
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   dialect: "cxf",
 *   expectedRepositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
 * });
 * assert.ok(server.url.endsWith("/rad69"));
 * assert.equal(server.instanceUids.length, 6);
 * // Point a RAD-69 client at server.url; inspect server.requests afterwards.
 * const client = new Rad69Client({
 *   url: server.url,
 *   repositoryUniqueId: "1.3.6.1.4.1.21367.13.80.110",
 * });
 * let count = 0;
 * for await (const _ of client.datasets(study)) count++;
 * assert.equal(count, 6);
 * assert.deepEqual(server.requests.map((r) => r.documents.length), [3, 3]);
 * ```
 *
 * @example A fake XDS registry holding a patient's KOS manifest
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 *
 * await using registry = await FakeXdsRegistry.start({
 *   documents: [{
 *     patientId: "P1^^^&1.2.3&ISO",
 *     uniqueId: "1.2.3.4.100",
 *     repositoryUniqueId: "1.2.3.4.5",
 *   }],
 * });
 * assert.ok(registry.url.endsWith("/xds/registry"));
 * // Point an ITI-18 FindDocuments query at registry.url.
 * ```
 *
 * @module
 */

export * from "./fake_server.ts";
export * from "./dicom_builder.ts";
export * from "./kos_builder.ts";
export * from "./fake_xds_registry.ts";
export * from "./fake_gateway.ts";
