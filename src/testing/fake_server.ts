/**
 * A fake RAD-69 Imaging Document Source on loopback, for tests: it validates
 * requests, records them, answers in the framing of a chosen real server
 * ("dialect"), and injects faults on demand.
 *
 * @module
 */

import dicomParser from "dicom-parser";
import {
  faultResponse,
  type FramedResponse,
  garbageResponse,
  type ModelDocument,
  type ModelError,
  mtomResponse,
  plainSoap,
  type ResponseModel,
  severityUrn,
  STATUS_URNS,
} from "./_framing.ts";
import { parsePart10 } from "../dicom.ts";
import {
  DOCUMENT_SET_ACTIONS,
  ITI39_ACTION,
  ITI43_ACTION,
  type ParsedRequest,
  parseRequest,
  RAD69_ACTION,
  RAD75_ACTION,
  RequestFault,
} from "./_request.ts";
import { checkFakeAuth } from "./_auth.ts";
import { fileChunks, pacedStream, sleep, slices } from "./_stream.ts";
import type {
  FakeDialect,
  FakeInstance,
  FakeRad69ServerOptions,
  FaultPlan,
  RecordedRequest,
  RequestedDocument,
} from "./_types.ts";

export type {
  FakeAuthOptions,
  FakeDialect,
  FakeExtraPart,
  FakeHttpReply,
  FakeInstance,
  FakeRad69ServerOptions,
  FakeRegistryError,
  FakeRequestHook,
  FakeSoapFault,
  FaultPlan,
  RecordedRequest,
  RequestedDocument,
} from "./_types.ts";

const EXPLICIT_VR_LE = "1.2.840.10008.1.2.1";
const IMPLICIT_VR_LE = "1.2.840.10008.1.2";
const NOT_DICOM = new TextEncoder().encode(
  "<html><head><title>500 Internal Server Error</title></head><body>Storage error</body></html>\n",
);
/** Every dialect the fake server speaks. */
export const FAKE_DIALECTS: readonly FakeDialect[] = [
  "cxf",
  "vitrea",
  "nist",
  "axis2",
  "wcf",
  "form-data",
  "inline",
];

/** A stored instance: in memory or on disk. */
interface Entry {
  studyUid: string;
  seriesUid: string;
  instanceUid: string;
  transferSyntaxUid: string | undefined;
  bytes?: Uint8Array;
  path?: string;
}

/** Reads the UIDs of a Part-10 file. */
function readUids(bytes: Uint8Array, where: string): Omit<Entry, "bytes"> {
  let ds: dicomParser.DataSet;
  try {
    ds = parsePart10(bytes, { untilTag: "x7fe00010" });
  } catch (e) {
    throw new TypeError(
      `Cannot read DICOM instance ${where}: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
  const studyUid = ds.string("x0020000d");
  const seriesUid = ds.string("x0020000e");
  const instanceUid = ds.string("x00080018");
  if (!studyUid || !seriesUid || !instanceUid) {
    throw new TypeError(
      `Cannot read DICOM instance ${where}: it lacks a study, series or SOP Instance UID`,
    );
  }
  return {
    studyUid,
    seriesUid,
    instanceUid,
    transferSyntaxUid: ds.string("x00020010") || undefined,
  };
}

/** The transfer syntax in a file's meta header, if readable. */
function readTransferSyntax(bytes: Uint8Array): string | undefined {
  try {
    return dicomParser.readPart10Header(bytes).string("x00020010") ||
      undefined;
  } catch {
    return undefined;
  }
}

/** Merges plans shallowly, later ones winning. */
function mergePlans(...plans: (FaultPlan | undefined)[]): FaultPlan {
  const out: Record<string, unknown> = {};
  for (const plan of plans) {
    if (!plan) continue;
    for (const [k, v] of Object.entries(plan)) {
      if (v !== undefined) out[k] = v;
    }
  }
  return out as FaultPlan;
}

/** Distinct values in first-seen order. */
function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** Yields every `*.dcm` file under a directory. */
async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir.replace(/\/+$/, "")}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile && entry.name.toLowerCase().endsWith(".dcm")) {
      yield path;
    }
  }
}

/**
 * A fake RAD-69 server on `127.0.0.1` and a free port. It serves the
 * instances it was given, validates every request (SOAP 1.2 envelope, exact
 * `wsa:Action`, one `RetrieveImagingDocumentSetRequest` with the right
 * namespaces and cardinalities; plain or MTOM) and answers in the framing of
 * the chosen {@linkcode FakeDialect}. An invalid request gets a SOAP 1.2
 * Fault (HTTP 400 for `env:Sender`, 500 otherwise; 415 for an unsupported
 * Content-Type).
 *
 * Faults are injected with {@linkcode FaultPlan}s: server-wide (`plan`
 * option or property), queued for the next requests
 * ({@linkcode FakeRad69Server.enqueue}), or chosen per request by the
 * `onRequest` hook. The three are merged, field by field, in that order.
 *
 * Bodies are streamed (pull-based, chunked, no Content-Length).
 * {@linkcode FakeRad69Server.close} aborts in-flight bodies, stalls and
 * latencies, so tests end and leak nothing.
 *
 * @example Serve a synthetic study and check what the client sent
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({
 *   instances: study,
 *   dialect: "vitrea",
 * });
 * assert.ok(server.url.startsWith("http://127.0.0.1:"));
 * const client = new Rad69Client({ url: server.url, mtom: true });
 * for await (const _ of client.datasets(study)) {
 *   // Both instances arrive.
 * }
 * const [request] = server.requests;
 * assert.ok(request?.valid && request.mtom);
 * assert.deepEqual(request.documentUniqueIds, study.map((i) => i.instanceUid));
 * ```
 *
 * @example Inject faults into the next requests
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * server.enqueue(
 *   { http: { status: 503, headers: { "retry-after": "0" } } },
 *   { truncate: { at: 3000, mode: "abort" } },
 * );
 * assert.equal(server.pendingPlans, 2);
 * const client = new Rad69Client({
 *   url: server.url,
 *   retryBaseDelayMs: 1,
 *   logger: {},
 * });
 * let count = 0;
 * for await (const _ of client.datasets(study)) count++;
 * assert.equal(count, 2); // delivered by the third request
 * assert.equal(server.requests.length, 3);
 * ```
 */
export class FakeRad69Server implements AsyncDisposable {
  /** The endpoint URL, e.g. `http://127.0.0.1:41234/rad69`. */
  readonly url: string;
  /** The port the server listens on. */
  readonly port: number;
  /** The dialect of the answers. */
  readonly dialect: FakeDialect;

  /** The server-wide plan, merged under queued and hook plans. */
  plan: FaultPlan;

  #server: Deno.HttpServer<Deno.NetAddr>;
  #ready: Promise<void>;
  #closing = new AbortController();
  #closed: Promise<void> | undefined;
  #entries = new Map<string, Entry>();
  #requests: RecordedRequest[] = [];
  #queue: FaultPlan[] = [];
  #path: string;
  #options: FakeRad69ServerOptions;

  /**
   * Starts serving at once; in-memory instances are available immediately,
   * a `directory` is read in the background (requests wait for it). Prefer
   * {@linkcode FakeRad69Server.start}, which also waits for the directory and
   * reports its errors.
   *
   * @param options Instances, dialect, validation switches and plans.
   * @throws {TypeError} When an instance cannot be read or the dialect is
   * unknown.
   *
   * @example Start without waiting
   * ```ts
   * import assert from "node:assert/strict";
   * import { FakeRad69Server } from "@rad69/client/testing";
   *
   * await using server = new FakeRad69Server({ dialect: "wcf" });
   * assert.equal(server.dialect, "wcf");
   * assert.ok(server.port > 0);
   * ```
   */
  constructor(options: FakeRad69ServerOptions = {}) {
    const dialect = options.dialect ?? "cxf";
    if (!FAKE_DIALECTS.includes(dialect)) {
      throw new TypeError(
        `Cannot start fake server: unknown dialect "${dialect}"`,
      );
    }
    this.#options = options;
    this.#path = options.path ?? "/rad69";
    this.dialect = dialect;
    this.plan = options.plan ?? {};
    for (const item of options.instances ?? []) {
      const entry = FakeRad69Server.#toEntry(item);
      this.#entries.set(entry.instanceUid, entry);
    }
    this.#ready = options.directory === undefined
      ? Promise.resolve()
      : this.#loadDirectory(options.directory);
    this.#ready.catch(() => {});
    this.#server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      onListen() {},
      onError(error) {
        return new Response(
          `Fake server error: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { status: 500 },
        );
      },
    }, (req) => this.#handle(req));
    this.port = this.#server.addr.port;
    const host = this.#server.addr.hostname.includes(":")
      ? `[${this.#server.addr.hostname}]`
      : this.#server.addr.hostname;
    this.url = `http://${host}:${this.port}${this.#path}`;
  }

  /**
   * Starts a server on a free port and waits until its instances are loaded.
   *
   * @param options Instances, dialect, validation switches and plans.
   * @returns The running server; close it with `await using` or `close()`.
   * @throws {TypeError} When an instance cannot be read or the dialect is
   * unknown.
   * @throws {Deno.errors.NotFound} When `directory` does not exist.
   *
   * @example Serve the `*.dcm` files of a folder
   * ```ts
   * import assert from "node:assert/strict";
   * import { buildDicomInstance, FakeRad69Server } from "@rad69/client/testing";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   await Deno.writeFile(
   *     `${dir}/one.dcm`,
   *     buildDicomInstance({ instanceUid: "1.2.3.4.5" }),
   *   );
   *   const server = await FakeRad69Server.start({ directory: dir, dialect: "nist" });
   *   assert.deepEqual(server.instanceUids, ["1.2.3.4.5"]);
   *   await server.close();
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  static async start(
    options: FakeRad69ServerOptions = {},
  ): Promise<FakeRad69Server> {
    const server = new FakeRad69Server(options);
    try {
      await server.#ready;
    } catch (e) {
      await server.close();
      throw e;
    }
    return server;
  }

  /** Reads every `*.dcm` file under a directory into the store. */
  async #loadDirectory(directory: string): Promise<void> {
    for await (const file of walk(directory)) {
      const bytes = await Deno.readFile(file);
      const entry: Entry = { ...readUids(bytes, `"${file}"`), path: file };
      this.#entries.set(entry.instanceUid, entry);
    }
  }

  /** Converts an instance option to a store entry. */
  static #toEntry(item: FakeInstance | Uint8Array): Entry {
    if (item instanceof Uint8Array) {
      return { ...readUids(item, "given as bytes"), bytes: item };
    }
    return {
      studyUid: item.studyUid,
      seriesUid: item.seriesUid,
      instanceUid: item.instanceUid,
      transferSyntaxUid: readTransferSyntax(item.bytes),
      bytes: item.bytes,
    };
  }

  /**
   * Every request received so far, in arrival order (a live array).
   *
   * @returns The recorded requests.
   *
   * @example Check the transfer syntaxes a client asked for
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * const client = new Rad69Client({
   *   url: server.url,
   *   transferSyntaxes: ["1.2.840.10008.1.2.1"],
   * });
   * await client.getDataset(study[0]!);
   * assert.deepEqual(server.requests[0]?.transferSyntaxes, ["1.2.840.10008.1.2.1"]);
   * ```
   */
  get requests(): readonly RecordedRequest[] {
    return this.#requests;
  }

  /**
   * The number of queued plans not yet used.
   *
   * @returns The queue length.
   */
  get pendingPlans(): number {
    return this.#queue.length;
  }

  /**
   * The SOP Instance UIDs the server holds.
   *
   * @returns The UIDs, in insertion order.
   */
  get instanceUids(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * Queues plans for the next requests: each POST to the endpoint (valid or
   * not) takes the next plan from the queue, merged over the server-wide
   * `plan`. Enqueue `{}` to let a request through unchanged.
   *
   * @param plans One plan per future request.
   *
   * @example Fail the first request, answer the second normally
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client, SoapFaultError } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * server.enqueue({ soapFault: { code: "Receiver", reason: "Busy" } }, {});
   * const client = new Rad69Client({ url: server.url, retries: 0 });
   * await assert.rejects(client.getDataset(study[0]!), SoapFaultError);
   * const instance = await client.getDataset(study[0]!);
   * assert.equal(instance.ref.instanceUid, study[0]!.instanceUid);
   * assert.equal(server.pendingPlans, 0);
   * ```
   */
  enqueue(...plans: FaultPlan[]): void {
    this.#queue.push(...plans);
  }

  /**
   * Adds instances after start (an existing SOP Instance UID is replaced).
   *
   * @param instances Instances, or raw Part-10 bytes.
   * @throws {TypeError} When raw bytes cannot be read as DICOM.
   *
   * @example Add an instance built on the fly
   * ```ts
   * import assert from "node:assert/strict";
   * import { buildDicomInstance, FakeRad69Server } from "@rad69/client/testing";
   *
   * await using server = await FakeRad69Server.start();
   * server.addInstances([buildDicomInstance({ instanceUid: "1.2.3.4.5" })]);
   * assert.deepEqual(server.instanceUids, ["1.2.3.4.5"]);
   * ```
   */
  addInstances(instances: Iterable<FakeInstance | Uint8Array>): void {
    for (const item of instances) {
      const entry = FakeRad69Server.#toEntry(item);
      this.#entries.set(entry.instanceUid, entry);
    }
  }

  /**
   * Removes an instance: later requests for it get the dialect's "not
   * found" answer.
   *
   * @param instanceUid Its SOP Instance UID.
   * @returns `true` when it was there.
   *
   * @example An instance deleted from the archive
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client, XDSMissingDocumentError } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * assert.ok(server.removeInstance(study[0]!.instanceUid));
   * const client = new Rad69Client({ url: server.url });
   * await assert.rejects(client.getDataset(study[0]!), XDSMissingDocumentError);
   * ```
   */
  removeInstance(instanceUid: string): boolean {
    return this.#entries.delete(instanceUid);
  }

  /**
   * Forgets the recorded requests (the next one gets `index` 0 again).
   *
   * @example Count the requests of one phase of a test
   * ```ts
   * import assert from "node:assert/strict";
   * import { Rad69Client } from "@rad69/client";
   * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
   *
   * const study = syntheticStudy({ series: 2, instancesPerSeries: 1 });
   * await using server = await FakeRad69Server.start({ instances: study });
   * const client = new Rad69Client({ url: server.url });
   * await client.getDataset(study[0]!);
   * server.clearRequests();
   * for await (const _ of client.datasets(study)) {
   *   // One request per series.
   * }
   * assert.equal(server.requests.length, 2);
   * ```
   */
  clearRequests(): void {
    this.#requests.length = 0;
  }

  /**
   * Stops the server: aborts in-flight bodies (their connections are
   * dropped), stalls and latencies, then waits for the listener to close.
   * Safe to call more than once.
   *
   * `Deno.serve` only shuts down gracefully: a body the client neither reads
   * nor cancels while the socket buffers are full keeps `close()` waiting
   * until the client cancels it or goes away. Consume or cancel every body.
   *
   * @returns When the server has fully stopped.
   *
   * @example Stop a server in a test's cleanup
   * ```ts
   * import assert from "node:assert/strict";
   * import { FakeRad69Server } from "@rad69/client/testing";
   *
   * const server = await FakeRad69Server.start({ dialect: "nist" });
   * try {
   *   const response = await fetch(server.url); // not a POST
   *   await response.body?.cancel();
   *   assert.equal(response.status, 405);
   * } finally {
   *   await server.close();
   * }
   * await server.close(); // safe to call again
   * ```
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closing.abort(new Error("Fake RAD-69 server closed"));
      this.#closed = (async () => {
        await this.#server.shutdown();
        await this.#server.finished;
      })();
    }
    return this.#closed;
  }

  /**
   * Same as {@linkcode FakeRad69Server.close}, for `await using`.
   *
   * @returns When the server has fully stopped.
   *
   * @example Close the server at the end of a block
   * ```ts
   * import assert from "node:assert/strict";
   * import { FakeRad69Server } from "@rad69/client/testing";
   *
   * let url: string;
   * {
   *   await using server = await FakeRad69Server.start();
   *   url = server.url;
   * } // closed here
   * await assert.rejects(fetch(url, { method: "POST" }), TypeError);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Answers one HTTP request. */
  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname !== this.#path) {
      await req.body?.cancel();
      return new Response("Not Found\n", { status: 404 });
    }
    if (req.method !== "POST") {
      await req.body?.cancel();
      return new Response("Method Not Allowed\n", {
        status: 405,
        headers: { allow: "POST" },
      });
    }
    const body = new Uint8Array(await req.arrayBuffer());
    try {
      await this.#ready;
    } catch (e) {
      return new Response(
        `Fake server could not load its instances: ${(e as Error).message}\n`,
        { status: 500 },
      );
    }
    const contentType = req.headers.get("content-type");
    const partial: Partial<ParsedRequest> = {};
    let parsed: ParsedRequest | undefined;
    let rejection: RequestFault | undefined;
    try {
      parsed = parseRequest(
        contentType,
        body,
        {
          requireMtom: this.#options.requireMtom ?? false,
          processAddressing: this.#options.processAddressing ?? true,
          actions: this.#options.homeCommunityId === undefined
            ? [RAD69_ACTION, ITI43_ACTION]
            : [RAD69_ACTION, ITI43_ACTION, RAD75_ACTION, ITI39_ACTION],
        },
        partial,
      );
    } catch (e) {
      rejection = e instanceof RequestFault
        ? e
        : new RequestFault(e instanceof Error ? e.message : String(e));
    }
    const info = parsed ?? partial;
    const documents: RequestedDocument[] = info.documents ?? [];
    const record: RecordedRequest = {
      index: this.#requests.length,
      method: req.method,
      url: req.url,
      headers: req.headers,
      contentType: contentType ?? "",
      body: new TextDecoder().decode(body),
      soapXml: info.soapXml ?? "",
      mtom: info.mtom ?? false,
      valid: parsed !== undefined,
      ...(rejection ? { validationError: rejection.message } : {}),
      ...(info.action !== undefined ? { action: info.action } : {}),
      ...(info.messageId !== undefined ? { messageId: info.messageId } : {}),
      ...(info.to !== undefined ? { to: info.to } : {}),
      documents,
      studyUids: distinct(documents.map((d) => d.studyUid)),
      seriesUids: distinct(documents.map((d) => d.seriesUid)),
      documentUniqueIds: documents.map((d) => d.documentUniqueId),
      repositoryUniqueIds: distinct(documents.map((d) => d.repositoryUniqueId)),
      homeCommunityIds: distinct(
        documents.flatMap((d) =>
          d.homeCommunityId !== undefined ? [d.homeCommunityId] : []
        ),
      ),
      transferSyntaxes: info.transferSyntaxes ?? [],
    };
    this.#requests.push(record);
    const refusal = checkFakeAuth(
      this.#options,
      req.headers,
      info.security,
    );
    if (refusal instanceof Response) return refusal;
    if (refusal && !rejection) {
      rejection = refusal;
      parsed = undefined;
    }

    const plan = mergePlans(
      this.plan,
      this.#queue.shift(),
      await this.#options.onRequest?.(record),
    );
    const signal = this.#closing.signal;
    if (plan.latencyMs) {
      try {
        await sleep(plan.latencyMs, signal);
      } catch {
        return new Response("Fake server closed\n", { status: 503 });
      }
    }
    if (plan.http) {
      const headers = new Headers(plan.responseHeaders);
      new Headers(plan.http.headers).forEach((value, name) =>
        headers.set(name, value)
      );
      if (plan.http.body !== undefined && !headers.has("content-type")) {
        headers.set("content-type", "text/html; charset=utf-8");
      }
      const httpBody = plan.http.body;
      return new Response(
        typeof httpBody === "string" || httpBody === undefined
          ? httpBody ?? ""
          : httpBody.slice(),
        {
          status: plan.http.status,
          headers,
        },
      );
    }
    const relatesTo = info.messageId;
    let framed: FramedResponse;
    if (plan.soapFault) {
      framed = faultResponse(this.dialect, plan.soapFault, plan, relatesTo);
    } else if (rejection) {
      framed = faultResponse(
        this.dialect,
        {
          code: rejection.code,
          reason: rejection.message,
          status: rejection.status,
          ...(rejection.subcode ? { subcode: rejection.subcode } : {}),
        },
        plan,
        relatesTo,
      );
    } else if (plan.garbage !== undefined) {
      framed = garbageResponse(this.dialect, plan.garbage, plan);
    } else {
      const model = this.#model(parsed!, plan);
      framed = this.dialect === "inline" ||
          (this.dialect === "vitrea" && model.documents.length === 0)
        ? plainSoap(this.dialect, model, plan)
        : mtomResponse(this.dialect, model, plan);
    }
    return this.#respond(framed, plan, signal);
  }

  /** Streams a framed answer with the byte-level knobs of the plan. */
  #respond(
    framed: FramedResponse,
    plan: FaultPlan,
    signal: AbortSignal,
  ): Response {
    const headers = new Headers();
    if (framed.contentType !== null) {
      headers.set("content-type", framed.contentType);
    }
    new Headers(plan.responseHeaders).forEach((value, name) =>
      headers.set(name, value)
    );
    const stream = pacedStream(framed.chunks, {
      signal,
      ...(plan.chunkSize !== undefined
        ? { chunkSize: Math.max(1, Math.floor(plan.chunkSize)) }
        : {}),
      ...(plan.bytesPerSecond !== undefined
        ? { bytesPerSecond: plan.bytesPerSecond }
        : {}),
      ...(plan.truncate
        ? {
          truncate: {
            at: plan.truncate.at,
            mode: plan.truncate.mode ?? "end",
          },
        }
        : {}),
      ...(plan.stall
        ? { stall: { at: plan.stall.at ?? 0, ms: plan.stall.ms ?? Infinity } }
        : {}),
    });
    return new Response(stream, { status: framed.status, headers });
  }

  /** Decides what a valid request gets: documents, errors, status. */
  #model(parsed: ParsedRequest, plan: FaultPlan): ResponseModel {
    const dialect = this.dialect;
    const options = this.#options;
    const nist = dialect === "nist";
    const notFound = plan.notFound ??
      (nist ? { code: "XDSDocumentUniqueIdError" } : {
        code: "XDSMissingDocument",
        context: dialect === "vitrea"
          ? "Unable to locate SOP from MINT."
          : "DICOM Object not found",
      });
    const accepted = new Set(parsed.transferSyntaxes);
    const errors: ModelError[] = [];
    const notFoundErrors: ModelError[] = [];
    const delivered: { doc: RequestedDocument; entry: Entry }[] = [];
    const seen = new Set<string>();
    const error = "Error";
    const documentSet = DOCUMENT_SET_ACTIONS.has(parsed.action ?? "");
    const community = options.homeCommunityId;
    for (const doc of parsed.documents) {
      const uid = doc.documentUniqueId;
      if (seen.has(uid)) continue;
      seen.add(uid);
      if (community !== undefined && doc.homeCommunityId !== community) {
        errors.push(
          doc.homeCommunityId === undefined
            ? {
              code: "XDSMissingHomeCommunityId",
              context: `DocumentRequest for ${uid} carries no HomeCommunityId`,
              location: community,
              severity: severityUrn(error),
            }
            : {
              code: "XDSUnknownCommunity",
              context:
                `Unknown community ${doc.homeCommunityId}: this gateway serves ${community}`,
              location: doc.homeCommunityId,
              severity: severityUrn(error),
            },
        );
        continue;
      }
      const expected = options.expectedRepositoryUniqueId;
      if (expected !== undefined && doc.repositoryUniqueId !== expected) {
        errors.push({
          code: "XDSUnknownRepositoryId",
          context:
            `Unknown Repository UID [${doc.repositoryUniqueId}]. Expected [${expected}]${
              nist ? ` for document ${uid}` : ""
            }`,
          location: nist ? "" : uid,
          severity: severityUrn(error),
        });
        continue;
      }
      const entry = this.#entries.get(uid);
      if (
        !entry ||
        (!documentSet && (options.matchHierarchy ?? true) &&
          (entry.studyUid !== doc.studyUid ||
            entry.seriesUid !== doc.seriesUid))
      ) {
        notFoundErrors.push({
          code: notFound.code,
          context: notFound.context ??
            (nist
              ? `No document matching composite UID [${doc.studyUid}:${doc.seriesUid}:${uid}]`
              : "DICOM Object not found"),
          location: nist ? "" : uid,
          severity: severityUrn(error),
        });
        continue;
      }
      const ts = entry.transferSyntaxUid;
      if (
        !documentSet && (options.checkTransferSyntax ?? true) &&
        ts !== undefined &&
        !accepted.has(ts) && !accepted.has(EXPLICIT_VR_LE) &&
        !accepted.has(IMPLICIT_VR_LE)
      ) {
        errors.push({
          code: nist ? "XDSRepositoryError" : "urn:dicom:wado:0007",
          context: nist
            ? `IDS cannot encode the pixel data using any of the requested transfer syntaxes (${uid})`
            : `The requested instance(s) cannot be provided in the requested transfer syntax: stored as ${ts}`,
          location: nist ? "" : uid,
          severity: severityUrn(error),
        });
        continue;
      }
      delivered.push({ doc, entry });
    }
    const computed = delivered.length === seen.size
      ? "Success"
      : delivered.length === 0
      ? "Failure"
      : "PartialSuccess";
    let allErrors: ModelError[];
    if (plan.omitRegistryErrors === true) {
      allErrors = [];
    } else if (nist && plan.omitRegistryErrors === undefined) {
      allErrors = errors;
    } else {
      allErrors = [...notFoundErrors, ...errors];
    }
    for (const e of plan.errors ?? []) {
      allErrors.push({
        code: e.code,
        context: e.context ?? "Fake server error",
        location: e.location ?? "",
        severity: severityUrn(e.severity),
      });
    }
    if (plan.omitRegistryErrors === true) {
      allErrors = [];
    }
    const omit = new Set(plan.omit ?? []);
    const notDicom = plan.notDicom === true
      ? true
      : new Set(plan.notDicom === false ? [] : plan.notDicom ?? []);
    const documents: ModelDocument[] = delivered
      .filter(({ doc }) => !omit.has(doc.documentUniqueId))
      .map(({ doc, entry }) => {
        const uid = doc.documentUniqueId;
        let source = entry;
        const swapWith = plan.swap?.[uid];
        if (swapWith !== undefined) {
          const other = this.#entries.get(swapWith);
          if (!other) {
            throw new TypeError(
              `Cannot swap instance "${uid}": "${swapWith}" is not stored`,
            );
          }
          source = other;
        }
        const bad = notDicom === true || notDicom.has(uid);
        return {
          documentUniqueId: uid,
          repositoryUniqueId: doc.repositoryUniqueId,
          ...(doc.homeCommunityId !== undefined
            ? { homeCommunityId: doc.homeCommunityId }
            : {}),
          body: bad
            ? () => [NOT_DICOM]
            : source.bytes
            ? () => slices(source.bytes!)
            : () => fileChunks(source.path!),
        };
      });
    return {
      statusUrn: plan.statusUrn ?? STATUS_URNS[plan.status ?? computed],
      errors: allErrors,
      documents,
      ...(parsed.messageId !== undefined
        ? { relatesTo: parsed.messageId }
        : {}),
    };
  }
}
