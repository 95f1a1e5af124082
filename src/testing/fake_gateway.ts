/**
 * A fake initiating gateway: one endpoint that answers ITI-38 Cross
 * Gateway Query, ITI-39 Cross Gateway Retrieve and RAD-75 Cross Gateway
 * Retrieve Imaging Document Set for one community, as a national network's
 * gateway does. Behind its one URL sit a {@linkcode FakeXdsRegistry} (ITI-38)
 * and a {@linkcode FakeRad69Server} (ITI-39 for the KOS manifests it holds,
 * RAD-75 for the images), both gateways of that community.
 *
 * @module
 */

import type { FakeAuthOptions } from "./_auth.ts";
import { FakeRad69Server } from "./fake_server.ts";
import {
  type FakeDocumentEntry,
  FakeXdsRegistry,
} from "./fake_xds_registry.ts";
import type { FakeInstance } from "./_types.ts";

const ITI38_ACTION = "urn:ihe:iti:2007:CrossGatewayQuery";

/** Options of {@linkcode FakeXdsGateway}. */
export interface FakeXdsGatewayOptions extends FakeAuthOptions {
  /** The community it is the gateway of, e.g. `urn:oid:1.2.3`. */
  readonly homeCommunityId: string;
  /** The DICOM objects it can send: images and KOS manifests. */
  readonly instances?: Iterable<FakeInstance | Uint8Array>;
  /** The DocumentEntries its queries find. */
  readonly documents?: readonly FakeDocumentEntry[];
}

/**
 * A fake initiating gateway on a free loopback port.
 *
 * @example A patient's images through a gateway
 * ```ts
 * import assert from "node:assert/strict";
 * import { XdsImagingConsumer } from "@rad69/client";
 * import {
 *   buildKos,
 *   FakeXdsGateway,
 *   syntheticStudy,
 * } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * const kosUid = "1.2.840.99.3.1";
 * const kos = buildKos({
 *   sopInstanceUid: kosUid,
 *   studies: [{
 *     studyUid: study[0]!.studyUid,
 *     series: [{
 *       seriesUid: study[0]!.seriesUid,
 *       repositoryUniqueId: "1.2.840.99.3.7",
 *       instances: study,
 *     }],
 *   }],
 * });
 * const community = "urn:oid:1.2.840.99.3";
 * await using gateway = await FakeXdsGateway.start({
 *   homeCommunityId: community,
 *   instances: [...study, {
 *     studyUid: study[0]!.studyUid,
 *     seriesUid: "1.2.840.99.3.2",
 *     instanceUid: kosUid,
 *     bytes: kos,
 *   }],
 *   documents: [{
 *     patientId: "P9^^^&1.2.840.99&ISO",
 *     uniqueId: kosUid,
 *     repositoryUniqueId: "1.2.840.99.3.5",
 *   }],
 * });
 * const consumer = new XdsImagingConsumer({
 *   registry: gateway.url,
 *   repository: gateway.url,
 *   url: gateway.url,
 *   crossGateway: true,
 *   homeCommunityId: community,
 * });
 * const dir = await Deno.makeTempDir();
 * const report = await consumer.downloadForPatient(
 *   { patientId: "P9^^^&1.2.840.99&ISO" },
 *   dir,
 * );
 * assert.equal(report.delivered, 2);
 * assert.equal(gateway.registry.requests.length, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FakeXdsGateway implements AsyncDisposable {
  /** The gateway's one endpoint. */
  readonly url: string;
  /** The community it serves. */
  readonly homeCommunityId: string;
  /** The ITI-38 side (its `requests` are the queries received). */
  readonly registry: FakeXdsRegistry;
  /** The ITI-39 / RAD-75 side (its `requests` are the retrieves received). */
  readonly server: FakeRad69Server;
  #front: Deno.HttpServer<Deno.NetAddr>;
  #closed: Promise<void> | undefined;

  private constructor(
    options: FakeXdsGatewayOptions,
    registry: FakeXdsRegistry,
    server: FakeRad69Server,
  ) {
    this.homeCommunityId = options.homeCommunityId;
    this.registry = registry;
    this.server = server;
    this.#front = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.#route(req),
    );
    this.url = `http://127.0.0.1:${this.#front.addr.port}/xca/gateway`;
  }

  /**
   * Starts the gateway.
   *
   * @param options The community, what it holds and its log-in
   * requirements (applied to every transaction).
   * @returns The running gateway; close it with `await using` or `close()`.
   */
  static async start(options: FakeXdsGatewayOptions): Promise<FakeXdsGateway> {
    const auth: FakeAuthOptions = {
      ...(options.requireAssertion !== undefined
        ? { requireAssertion: options.requireAssertion }
        : {}),
      ...(options.requireCredentials !== undefined
        ? { requireCredentials: options.requireCredentials }
        : {}),
    };
    const registry = await FakeXdsRegistry.start({
      ...auth,
      homeCommunityId: options.homeCommunityId,
      documents: options.documents ?? [],
    });
    const server = await FakeRad69Server.start({
      ...auth,
      homeCommunityId: options.homeCommunityId,
      instances: options.instances ?? [],
    });
    return new FakeXdsGateway(options, registry, server);
  }

  /** Sends a request to the side that serves its action. */
  async #route(req: Request): Promise<Response> {
    const body = new Uint8Array(await req.arrayBuffer());
    const text = new TextDecoder().decode(body.subarray(0, 64 * 1024));
    const query = text.includes(ITI38_ACTION) ||
      (req.headers.get("content-type") ?? "").includes(ITI38_ACTION);
    const target = query ? this.registry.url : this.server.url;
    const answer = await fetch(target, {
      method: req.method,
      headers: req.headers,
      body: req.method === "POST" ? body : undefined,
      redirect: "manual",
    });
    return new Response(answer.body, {
      status: answer.status,
      headers: answer.headers,
    });
  }

  /**
   * Stops the gateway and what stands behind it.
   *
   * @returns When everything has stopped.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#front.shutdown();
      await Promise.all([this.registry.close(), this.server.close()]);
    })();
    return this.#closed;
  }

  /**
   * Same as {@linkcode FakeXdsGateway.close}, for `await using`.
   *
   * @returns When everything has stopped.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
