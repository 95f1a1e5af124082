/**
 * A fake XDS Document Registry (ITI-18 Registry Stored Query, FindDocuments)
 * or, with a `homeCommunityId`, a fake responding gateway (ITI-38 Cross
 * Gateway Query) on loopback, for tests: it validates and records queries,
 * filters the DocumentEntries it holds, and injects faults on demand.
 *
 * @module
 */

import { escapeXml } from "../xml.ts";
import { assertPatientCx } from "../xds/query_params.ts";
import {
  FIND_DOCUMENTS_QUERY_ID,
  ITI18_ACTION,
  ITI38_ACTION,
  KOS_FORMAT_CODE,
} from "../xds/iti18.ts";
import {
  CLASS_CODE_SCHEME,
  FORMAT_CODE_SCHEME,
  PATIENT_ID_SCHEME,
  TYPE_CODE_SCHEME,
  UNIQUE_ID_SCHEME,
} from "../xds/document_entry.ts";
import {
  addressing,
  faultEnvelope,
  severityUrn,
  STATUS_URNS,
} from "./_framing.ts";
import {
  type ParsedRequest,
  readSoapEnvelope,
  RequestFault,
  type SoapEnvelopeRequest,
} from "./_request.ts";
import {
  decodeSlotValue,
  type ParsedQuery,
  QUERY_NS,
  readAdhocQuery,
  RIM_NS,
  RS_NS,
  SlotSyntaxError,
} from "./_registry_request.ts";
import type { FakeSoapFault } from "./_types.ts";
import { checkFakeAuth, type FakeAuthOptions } from "./_auth.ts";

const STATUS_PREFIX = "urn:oasis:names:tc:ebxml-regrep:StatusType:";
const STABLE_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
const CLASSIFICATION_TYPE =
  "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification";
const EXTERNAL_ID_TYPE =
  "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier";

/** A coded value of a fake DocumentEntry. */
export interface FakeXdsCode {
  /** The code. */
  readonly code: string;
  /** Its coding scheme. */
  readonly scheme: string;
  /** Its display name. */
  readonly displayName?: string;
}

/**
 * A DocumentEntry held by {@linkcode FakeXdsRegistry}.
 *
 * @example A KOS manifest of a patient, in a repository
 * ```ts
 * import type { FakeDocumentEntry } from "@rad69/client/testing";
 *
 * const entry: FakeDocumentEntry = {
 *   patientId: "P1^^^&1.2.3&ISO",
 *   uniqueId: "1.2.3.4.100",
 *   repositoryUniqueId: "1.2.3.4.5",
 *   serviceStartTime: "20240315101500",
 *   title: "CT chest",
 * };
 * void entry;
 * ```
 */
export interface FakeDocumentEntry {
  /** XDSDocumentEntry.patientId (`ID^^^&OID&ISO`). */
  readonly patientId: string;
  /** XDSDocumentEntry.uniqueId. */
  readonly uniqueId: string;
  /** The repository holding the document. */
  readonly repositoryUniqueId: string;
  /** The `home` attribute sent (a gateway sends its own when absent). */
  readonly homeCommunityId?: string;
  /**
   * The mimeType.
   *
   * @default {"application/dicom"}
   */
  readonly mimeType?: string;
  /**
   * The formatCode.
   *
   * @default {KOS_FORMAT_CODE}
   */
  readonly formatCode?: FakeXdsCode;
  /** The classCode. */
  readonly classCode?: FakeXdsCode;
  /** The typeCode. */
  readonly typeCode?: FakeXdsCode;
  /**
   * Availability status: "Approved", "Deprecated" or a URN.
   *
   * @default {"Approved"}
   */
  readonly status?: string;
  /** The entryUUID (a fresh `urn:uuid:` when absent). */
  readonly entryUuid?: string;
  /** serviceStartTime (DTM). */
  readonly serviceStartTime?: string;
  /** serviceStopTime (DTM). */
  readonly serviceStopTime?: string;
  /** creationTime (DTM). */
  readonly creationTime?: string;
  /** The title (`rim:Name`). */
  readonly title?: string;
  /** The size slot. */
  readonly size?: number;
  /** The hash slot. */
  readonly hash?: string;
  /** The sourcePatientId slot. */
  readonly sourcePatientId?: string;
}

/** A RegistryError the fake answers with. */
export interface FakeQueryError {
  /** `errorCode`. */
  readonly code: string;
  /** `codeContext`. */
  readonly context?: string;
  /** `location`. */
  readonly location?: string;
  /**
   * "Error", "Warning" or a severity URN.
   *
   * @default {"Error"}
   */
  readonly severity?: string;
}

/**
 * Faults {@linkcode FakeXdsRegistry} injects into its answers; the
 * server-wide plan and the next queued one are merged, field by field.
 *
 * @example Refuse the next query, then answer
 * ```ts
 * import type { FakeRegistryPlan } from "@rad69/client/testing";
 *
 * const plans: FakeRegistryPlan[] = [
 *   { http: { status: 503, headers: { "retry-after": "0" } } },
 *   { partialSuccess: { code: "XDSUnavailableCommunity", location: "urn:oid:1.9" } },
 * ];
 * void plans;
 * ```
 */
export interface FakeRegistryPlan {
  /** Answer Failure with this RegistryError. */
  readonly registryError?: FakeQueryError;
  /** Answer Failure with `XDSTooManyResults`. */
  readonly tooManyResults?: boolean;
  /**
   * Answer PartialSuccess with the matching entries and this error
   * (`XDSRegistryError` when `true`).
   */
  readonly partialSuccess?: FakeQueryError | boolean;
  /** Answer with a SOAP Fault. */
  readonly soapFault?: FakeSoapFault;
  /** Answer with a plain HTTP response instead. */
  readonly http?: {
    readonly status: number;
    readonly body?: string;
    readonly headers?: HeadersInit;
  };
  /** Bytes of XML comment added to the answer's SOAP Header (size tests). */
  readonly padding?: number;
}

/**
 * Options of {@linkcode FakeXdsRegistry.start}.
 *
 * @example A responding gateway behind a SAML assertion
 * ```ts
 * import type { FakeXdsRegistryOptions } from "@rad69/client/testing";
 *
 * const options: FakeXdsRegistryOptions = {
 *   homeCommunityId: "urn:oid:1.2.3.99",
 *   requireAssertion: "_a1b2c3",
 * };
 * void options;
 * ```
 */
export interface FakeXdsRegistryOptions extends FakeAuthOptions {
  /** The DocumentEntries held at start. */
  readonly documents?: readonly FakeDocumentEntry[];
  /**
   * Be a responding gateway of this community: serve ITI-38 (not ITI-18),
   * answer only queries whose AdhocQuery `home` is this id
   * (`XDSUnknownCommunity` otherwise), and mark every entry with it.
   */
  readonly homeCommunityId?: string;
  /**
   * The endpoint path.
   *
   * @default {"/xds/registry"} ("/xca/query" for a gateway)
   */
  readonly path?: string;
  /** The server-wide plan. */
  readonly plan?: FakeRegistryPlan;
  /** More matching entries than this: Failure with `XDSTooManyResults`. */
  readonly maxResults?: number;
  /**
   * Process WS-Addressing headers (`false`: like JAX-WS RI without
   * AddressingFeature).
   *
   * @default {true}
   */
  readonly processAddressing?: boolean;
}

/**
 * One query received by {@linkcode FakeXdsRegistry}.
 *
 * @example Check the slots a client sent
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RecordedQuery } from "@rad69/client/testing";
 *
 * function patientOf(query: RecordedQuery): string | undefined {
 *   return query.patientId;
 * }
 * assert.equal(typeof patientOf, "function");
 * ```
 */
export interface RecordedQuery {
  /** Arrival index, from 0. */
  readonly index: number;
  /** The request headers. */
  readonly headers: Headers;
  /** The Content-Type sent. */
  readonly contentType: string;
  /** The SOAP envelope, as text ("" when it could not be read). */
  readonly soapXml: string;
  /** Whether the query was well formed and complete. */
  readonly valid: boolean;
  /** Why it was not. */
  readonly validationError?: string;
  /** The `wsa:Action` sent. */
  readonly action?: string;
  /** The `wsa:MessageID` sent. */
  readonly messageId?: string;
  /** Whether a `wsse:Security` header came. */
  readonly security: boolean;
  /** The `AdhocQuery/@id`. */
  readonly queryId?: string;
  /** The `AdhocQuery/@home`. */
  readonly home?: string;
  /** `ResponseOption/@returnType`. */
  readonly returnType?: string;
  /** Slot name to its raw values. */
  readonly slots: Readonly<Record<string, readonly string[]>>;
  /** The decoded `$XDSDocumentEntryPatientId`. */
  readonly patientId?: string;
  /** What the fake answered: a status, "Fault" or "HTTP <status>". */
  readonly answer: string;
  /** The uniqueIds of the entries returned. */
  readonly returned: readonly string[];
}

/** A held entry with its defaults applied. */
interface Held extends FakeDocumentEntry {
  readonly entryUuid: string;
  readonly statusUrn: string;
}

/** A registry answer before serialisation. */
interface QueryAnswer {
  statusUrn: string;
  errors: FakeQueryError[];
  entries: Held[];
}

/** Whether `candidate` is in a decoded list of codes `code^^scheme`. */
function codeMatches(
  candidate: FakeXdsCode | undefined,
  wanted: string[] | undefined,
): boolean {
  if (wanted === undefined) return true;
  return candidate !== undefined &&
    wanted.includes(`${candidate.code}^^${candidate.scheme}`);
}

/**
 * A fake XDS Document Registry on loopback (ITI-18 FindDocuments), or with
 * `homeCommunityId` a fake responding gateway (ITI-38): it validates every
 * query (SOAP 1.2, the action, a well-formed `query:AdhocQueryRequest`,
 * the ebRS slot quoting), records it, and answers with the
 * DocumentEntries it holds that match the patient, status, formatCode,
 * classCode, typeCode and serviceStartTime range. Query errors are
 * answered as registries do (Failure with `XDSUnknownStoredQuery`,
 * `XDSStoredQueryParamNumber`, `XDSRegistryError`, `XDSUnknownCommunity`);
 * a malformed envelope gets a SOAP Fault. Faults are injected with
 * {@linkcode FakeRegistryPlan}s; log-ins are required like on every fake
 * endpoint ({@linkcode FakeAuthOptions}: `requireAssertion`,
 * `requireCredentials`, also settable while it runs).
 *
 * @example Find a patient's KOS manifests
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 * import { findDocuments } from "../xds/iti18.ts";
 *
 * await using registry = await FakeXdsRegistry.start();
 * registry.addDocument({
 *   patientId: "P1^^^&1.2.3&ISO",
 *   uniqueId: "1.2.3.4.100",
 *   repositoryUniqueId: "1.2.3.4.5",
 * });
 * registry.addDocument({
 *   patientId: "P1^^^&1.2.3&ISO",
 *   uniqueId: "1.2.3.4.200",
 *   repositoryUniqueId: "1.2.3.4.5",
 *   mimeType: "text/xml",
 *   formatCode: { code: "urn:ihe:pcc:xphr:2007", scheme: "1.3.6.1.4.1.19376.1.2.3" },
 * });
 * const { documents } = await findDocuments(
 *   { patientId: "P1^^^&1.2.3&ISO" },
 *   { url: registry.url },
 * );
 * assert.deepEqual(documents.map((d) => d.uniqueId), ["1.2.3.4.100"]);
 * assert.ok(registry.requests[0]?.valid);
 * ```
 *
 * @example A responding gateway that wants an assertion
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthenticationError } from "@rad69/client";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 * import { findDocuments } from "../xds/iti18.ts";
 *
 * await using gateway = await FakeXdsRegistry.start({
 *   homeCommunityId: "urn:oid:1.2.3.99",
 *   requireAssertion: "_good",
 * });
 * const header = (id: string) =>
 *   `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0"/></wsse:Security>`;
 * const options = {
 *   url: gateway.url,
 *   crossGateway: true,
 *   homeCommunityId: "urn:oid:1.2.3.99",
 * };
 * const found = await findDocuments({ patientId: "P1^^^&1.2.3&ISO" }, {
 *   ...options,
 *   securityHeader: () => header("_good"),
 * });
 * assert.equal(found.documents.length, 0);
 * await assert.rejects(
 *   findDocuments({ patientId: "P1^^^&1.2.3&ISO" }, {
 *     ...options,
 *     securityHeader: () => header("_expired"),
 *     onUnauthorized: () => {
 *       throw new Error("no STS here");
 *     },
 *   }),
 *   AuthenticationError,
 * );
 * ```
 */
export class FakeXdsRegistry implements AsyncDisposable {
  /** The endpoint URL, e.g. `http://127.0.0.1:41234/xds/registry`. */
  readonly url: string;
  /** The port the server listens on. */
  readonly port: number;
  /** The community this fake is a gateway of, when it is one. */
  readonly homeCommunityId: string | undefined;
  /** The server-wide plan, merged under the queued ones. */
  plan: FakeRegistryPlan;
  /** The SAML assertion required in `wsse:Security`, if any. */
  requireAssertion: FakeAuthOptions["requireAssertion"];
  /** The HTTP credentials required, if any. */
  requireCredentials: FakeAuthOptions["requireCredentials"];
  /** More matches than this answer `XDSTooManyResults`. */
  maxResults: number;

  #server: Deno.HttpServer<Deno.NetAddr>;
  #closed: Promise<void> | undefined;
  #path: string;
  #entries: Held[] = [];
  #requests: RecordedQuery[] = [];
  #queue: FakeRegistryPlan[] = [];
  #processAddressing: boolean;

  /**
   * Starts serving at once. Prefer {@linkcode FakeXdsRegistry.start}.
   *
   * @param options Entries, gateway mode, plan and log-in requirements.
   * @throws {InvalidQueryParameterError} When an entry's patientId is not
   * an XDS CX.
   *
   * @example Start without waiting
   * ```ts
   * import assert from "node:assert/strict";
   * import { FakeXdsRegistry } from "@rad69/client/testing";
   *
   * await using registry = new FakeXdsRegistry({ path: "/registry" });
   * assert.ok(registry.url.endsWith("/registry"));
   * ```
   */
  constructor(options: FakeXdsRegistryOptions = {}) {
    this.homeCommunityId = options.homeCommunityId;
    this.#path = options.path ??
      (options.homeCommunityId ? "/xca/query" : "/xds/registry");
    this.plan = options.plan ?? {};
    this.requireAssertion = options.requireAssertion;
    this.requireCredentials = options.requireCredentials;
    this.maxResults = options.maxResults ?? Infinity;
    this.#processAddressing = options.processAddressing ?? true;
    for (const entry of options.documents ?? []) this.addDocument(entry);
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
    }, (req) => this.#handle(req));
    this.port = this.#server.addr.port;
    this.url = `http://127.0.0.1:${this.port}${this.#path}`;
  }

  /**
   * Starts a fake registry on a free loopback port.
   *
   * @param options Entries, gateway mode, plan and log-in requirements.
   * @returns The running registry; close it with `await using` or `close()`.
   *
   * @example Start one with an entry
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
   * assert.equal(registry.documents.length, 1);
   * ```
   */
  static start(options: FakeXdsRegistryOptions = {}): Promise<FakeXdsRegistry> {
    return Promise.resolve(new FakeXdsRegistry(options));
  }

  /**
   * Adds a DocumentEntry.
   *
   * @param entry The entry (defaults: KOS formatCode, application/dicom,
   * Approved).
   * @throws {InvalidQueryParameterError} When its patientId is not an XDS CX.
   *
   * @example Add a deprecated entry (never found: queries ask for Approved)
   * ```ts
   * import { FakeXdsRegistry } from "@rad69/client/testing";
   *
   * await using registry = await FakeXdsRegistry.start();
   * registry.addDocument({
   *   patientId: "P1^^^&1.2.3&ISO",
   *   uniqueId: "1.2.3.4.9",
   *   repositoryUniqueId: "1.2.3.4.5",
   *   status: "Deprecated",
   * });
   * ```
   */
  addDocument(entry: FakeDocumentEntry): void {
    assertPatientCx(entry.patientId, "entry.patientId");
    const status = entry.status ?? "Approved";
    this.#entries.push({
      ...entry,
      entryUuid: entry.entryUuid ?? `urn:uuid:${crypto.randomUUID()}`,
      statusUrn: status.includes(":") ? status : STATUS_PREFIX + status,
    });
  }

  /**
   * The entries held, in insertion order.
   *
   * @returns The entries.
   *
   * @example Count the entries
   * ```ts
   * import assert from "node:assert/strict";
   * import { FakeXdsRegistry } from "@rad69/client/testing";
   *
   * await using registry = await FakeXdsRegistry.start();
   * assert.equal(registry.documents.length, 0);
   * ```
   */
  get documents(): readonly FakeDocumentEntry[] {
    return this.#entries;
  }

  /**
   * Every query received so far, in arrival order (a live array).
   *
   * @returns The recorded queries.
   *
   * @example Nothing asked yet
   * ```ts
   * import assert from "node:assert/strict";
   * import { FakeXdsRegistry } from "@rad69/client/testing";
   *
   * await using registry = await FakeXdsRegistry.start();
   * assert.deepEqual(registry.requests, []);
   * ```
   */
  get requests(): readonly RecordedQuery[] {
    return this.#requests;
  }

  /**
   * Queues plans for the next queries, one each.
   *
   * @param plans The plans.
   *
   * @example The next query gets a 503
   * ```ts
   * import { FakeXdsRegistry } from "@rad69/client/testing";
   *
   * await using registry = await FakeXdsRegistry.start();
   * registry.enqueue({ http: { status: 503 } });
   * ```
   */
  enqueue(...plans: FakeRegistryPlan[]): void {
    this.#queue.push(...plans);
  }

  /**
   * Stops the server; safe to call more than once.
   *
   * @returns When the server has stopped.
   *
   * @example Stop it
   * ```ts
   * import { FakeXdsRegistry } from "@rad69/client/testing";
   *
   * const registry = await FakeXdsRegistry.start();
   * await registry.close();
   * await registry.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#server.shutdown();
      await this.#server.finished;
    })();
    return this.#closed;
  }

  /**
   * Same as {@linkcode FakeXdsRegistry.close}, for `await using`.
   *
   * @returns When the server has stopped.
   *
   * @example Close at the end of a block
   * ```ts
   * import { FakeXdsRegistry } from "@rad69/client/testing";
   *
   * {
   *   await using _registry = await FakeXdsRegistry.start();
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Answers one HTTP request. */
  async #handle(req: Request): Promise<Response> {
    if (new URL(req.url).pathname !== this.#path) {
      await req.body?.cancel();
      return new Response("Not Found\n", { status: 404 });
    }
    if (req.method !== "POST") {
      await req.body?.cancel();
      return new Response("Method Not Allowed\n", { status: 405 });
    }
    const body = new Uint8Array(await req.arrayBuffer());
    const contentType = req.headers.get("content-type") ?? "";
    const envelope: Partial<ParsedRequest> = {};
    const query: Partial<ParsedQuery> = {};
    const record = {
      index: this.#requests.length,
      headers: req.headers,
      contentType,
      soapXml: "",
      valid: false,
      security: false,
      slots: {} as Record<string, readonly string[]>,
      answer: "",
      returned: [] as string[],
    } as {
      -readonly [K in keyof RecordedQuery]: RecordedQuery[K];
    };
    this.#requests.push(record);
    const plan: FakeRegistryPlan = {
      ...this.plan,
      ...this.#queue.shift(),
    };
    const finish = (response: Response, answer: string) => {
      record.answer = answer;
      return response;
    };

    const toFault = (e: unknown) =>
      e instanceof RequestFault
        ? e
        : new RequestFault(e instanceof Error ? e.message : String(e));
    let soap: SoapEnvelopeRequest | undefined;
    let parsed: ParsedQuery | undefined;
    let failure: RequestFault | undefined;
    try {
      soap = readSoapEnvelope(contentType, body, {
        requireMtom: false,
        processAddressing: this.#processAddressing,
        actions: [this.homeCommunityId ? ITI38_ACTION : ITI18_ACTION],
      }, envelope);
      record.security = soap.security !== undefined;
    } catch (e) {
      failure = toFault(e);
    }
    const refusal = checkFakeAuth(
      {
        requireAssertion: this.requireAssertion,
        requireCredentials: this.requireCredentials,
      },
      req.headers,
      soap?.security,
    );
    if (refusal instanceof Response) {
      Object.assign(record, this.#envelopeInfo(envelope, query));
      record.validationError = "no valid HTTP credentials";
      return finish(refusal, `HTTP ${refusal.status}`);
    }
    failure ??= refusal;
    if (soap && !failure) {
      try {
        parsed = readAdhocQuery(soap.body, query);
      } catch (e) {
        failure = toFault(e);
      }
    }
    Object.assign(record, this.#envelopeInfo(envelope, query));
    const relatesTo = envelope.messageId;
    if (failure || !parsed) {
      const fault = failure ?? new RequestFault("Unreadable request");
      record.validationError = fault.message;
      return finish(
        this.#fault({
          code: fault.code,
          reason: fault.message,
          status: fault.status,
          ...(fault.subcode ? { subcode: fault.subcode } : {}),
        }, relatesTo),
        "Fault",
      );
    }
    if (plan.http) {
      return finish(
        new Response(plan.http.body ?? "", {
          status: plan.http.status,
          headers: plan.http.headers ?? {},
        }),
        `HTTP ${plan.http.status}`,
      );
    }
    if (plan.soapFault) {
      return finish(this.#fault(plan.soapFault, relatesTo), "Fault");
    }
    const answer = this.#answer(parsed, plan, record);
    record.returned = answer.entries.map((e) => e.uniqueId);
    return finish(
      this.#soap(answer, parsed, plan, relatesTo),
      answer.statusUrn.slice(answer.statusUrn.lastIndexOf(":") + 1),
    );
  }

  /** The envelope and query fields of a record. */
  #envelopeInfo(
    envelope: Partial<ParsedRequest>,
    query: Partial<ParsedQuery>,
  ): Partial<RecordedQuery> {
    return {
      ...(envelope.soapXml !== undefined ? { soapXml: envelope.soapXml } : {}),
      ...(envelope.action !== undefined ? { action: envelope.action } : {}),
      ...(envelope.messageId !== undefined
        ? { messageId: envelope.messageId }
        : {}),
      ...(query.queryId !== undefined ? { queryId: query.queryId } : {}),
      ...(query.home !== undefined ? { home: query.home } : {}),
      ...(query.returnType !== undefined
        ? { returnType: query.returnType }
        : {}),
      ...(query.slots ? { slots: query.slots } : {}),
    };
  }

  /** Filters the entries and decides the answer's status and errors. */
  #answer(
    query: ParsedQuery,
    plan: FakeRegistryPlan,
    record: { valid: boolean; validationError?: string; patientId?: string },
  ): QueryAnswer {
    const fail = (error: FakeQueryError, valid = false): QueryAnswer => {
      record.valid = valid;
      if (!valid) record.validationError = error.context ?? error.code;
      return { statusUrn: STATUS_URNS.Failure, errors: [error], entries: [] };
    };
    if (this.homeCommunityId && query.home !== this.homeCommunityId) {
      return fail({
        code: "XDSUnknownCommunity",
        context: query.home === undefined
          ? "The AdhocQuery has no home attribute"
          : `Unknown community "${query.home}"`,
        location: query.home ?? "",
      });
    }
    if (query.queryId !== FIND_DOCUMENTS_QUERY_ID) {
      return fail({
        code: "XDSUnknownStoredQuery",
        context: `Unknown stored query "${query.queryId}"`,
      });
    }
    const decoded: Record<string, string[]> = Object.create(null);
    try {
      for (const [name, values] of Object.entries(query.slots)) {
        decoded[name] = values.flatMap(decodeSlotValue);
      }
    } catch (e) {
      if (!(e instanceof SlotSyntaxError)) throw e;
      return fail({ code: "XDSRegistryError", context: e.message });
    }
    const patient = decoded["$XDSDocumentEntryPatientId"];
    const statuses = decoded["$XDSDocumentEntryStatus"];
    if (patient?.length !== 1 || !statuses?.length) {
      return fail({
        code: "XDSStoredQueryParamNumber",
        context:
          "FindDocuments needs one $XDSDocumentEntryPatientId and $XDSDocumentEntryStatus",
      });
    }
    const patientId = patient[0]!;
    record.patientId = patientId;
    try {
      assertPatientCx(patientId, "$XDSDocumentEntryPatientId");
    } catch (e) {
      return fail({ code: "XDSRegistryError", context: (e as Error).message });
    }
    record.valid = true;
    if (plan.registryError) return fail(plan.registryError, true);
    const from = decoded["$XDSDocumentEntryServiceStartTimeFrom"]?.[0];
    const to = decoded["$XDSDocumentEntryServiceStartTimeTo"]?.[0];
    const pad = (t: string) => t.padEnd(14, "0");
    const entries = this.#entries.filter((e) =>
      e.patientId === patientId && statuses.includes(e.statusUrn) &&
      codeMatches(
        e.formatCode ?? KOS_FORMAT_CODE,
        decoded["$XDSDocumentEntryFormatCode"],
      ) &&
      codeMatches(e.classCode, decoded["$XDSDocumentEntryClassCode"]) &&
      codeMatches(e.typeCode, decoded["$XDSDocumentEntryTypeCode"]) &&
      (from === undefined ||
        (e.serviceStartTime !== undefined &&
          pad(e.serviceStartTime) >= pad(from))) &&
      (to === undefined ||
        (e.serviceStartTime !== undefined &&
          pad(e.serviceStartTime) < pad(to)))
    );
    if (plan.tooManyResults || entries.length > this.maxResults) {
      return fail({
        code: "XDSTooManyResults",
        context: `${entries.length} entries match; narrow the query`,
      }, true);
    }
    if (plan.partialSuccess) {
      const error = plan.partialSuccess === true
        ? { code: "XDSRegistryError", context: "Some results are missing" }
        : plan.partialSuccess;
      return {
        statusUrn: STATUS_URNS.PartialSuccess,
        errors: [error],
        entries,
      };
    }
    return { statusUrn: STATUS_URNS.Success, errors: [], entries };
  }

  /** A SOAP Fault answer. */
  #fault(fault: FakeSoapFault, relatesTo: string | undefined): Response {
    return new Response(faultEnvelope(fault, relatesTo), {
      status: fault.status ?? (fault.code === "Sender" ? 400 : 500),
      headers: { "content-type": "application/soap+xml; charset=UTF-8" },
    });
  }

  /** Serialises an answer. */
  #soap(
    answer: QueryAnswer,
    query: ParsedQuery,
    plan: FakeRegistryPlan,
    relatesTo: string | undefined,
  ): Response {
    const action = `${
      this.homeCommunityId ? ITI38_ACTION : ITI18_ACTION
    }Response`;
    const padding = plan.padding
      ? `<!--${"x".repeat(Math.max(0, plan.padding - 7))}-->`
      : "";
    const errors = answer.errors.length === 0
      ? ""
      : `<rs:RegistryErrorList highestSeverity="${
        severityUrn(
          answer.errors.some((e) => (e.severity ?? "Error").endsWith("Error"))
            ? "Error"
            : "Warning",
        )
      }">${
        answer.errors.map((e) =>
          `<rs:RegistryError errorCode="${escapeXml(e.code)}" codeContext="${
            escapeXml(e.context ?? "")
          }" location="${escapeXml(e.location ?? "")}" severity="${
            escapeXml(severityUrn(e.severity))
          }"/>`
        ).join("")
      }</rs:RegistryErrorList>`;
    const objects = answer.entries.map((e) =>
      query.returnType === "ObjectRef"
        ? `<rim:ObjectRef id="${escapeXml(e.entryUuid)}"${this.#home(e)}/>`
        : this.#extrinsicObject(e)
    ).join("");
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">${
        addressing("env", action, relatesTo).replace(
          "</env:Header>",
          `${padding}</env:Header>`,
        )
      }<env:Body><query:AdhocQueryResponse xmlns:query="${QUERY_NS}" xmlns:rim="${RIM_NS}" xmlns:rs="${RS_NS}" status="${answer.statusUrn}">${errors}<rim:RegistryObjectList>${objects}</rim:RegistryObjectList></query:AdhocQueryResponse></env:Body></env:Envelope>`;
    return new Response(xml, {
      status: 200,
      headers: {
        "content-type":
          `application/soap+xml; charset=UTF-8; action="${action}"`,
      },
    });
  }

  /** The `home` attribute of an entry. */
  #home(entry: Held): string {
    const home = entry.homeCommunityId ?? this.homeCommunityId;
    return home === undefined ? "" : ` home="${escapeXml(home)}"`;
  }

  /** One `rim:ExtrinsicObject`. */
  #extrinsicObject(e: Held): string {
    const id = escapeXml(e.entryUuid);
    const slot = (name: string, value: string | number | undefined) =>
      value === undefined
        ? ""
        : `<rim:Slot name="${name}"><rim:ValueList><rim:Value>${
          escapeXml(String(value))
        }</rim:Value></rim:ValueList></rim:Slot>`;
    const name = (value: string | undefined) =>
      value === undefined
        ? ""
        : `<rim:Name><rim:LocalizedString value="${
          escapeXml(value)
        }"/></rim:Name>`;
    const code = (scheme: string, c: FakeXdsCode | undefined) =>
      c === undefined
        ? ""
        : `<rim:Classification classificationScheme="${scheme}" classifiedObject="${id}" id="urn:uuid:${crypto.randomUUID()}" nodeRepresentation="${
          escapeXml(c.code)
        }" objectType="${CLASSIFICATION_TYPE}">${
          slot("codingScheme", c.scheme)
        }${name(c.displayName)}</rim:Classification>`;
    const external = (scheme: string, value: string, label: string) =>
      `<rim:ExternalIdentifier id="urn:uuid:${crypto.randomUUID()}" identificationScheme="${scheme}" objectType="${EXTERNAL_ID_TYPE}" registryObject="${id}" value="${
        escapeXml(value)
      }">${name(label)}</rim:ExternalIdentifier>`;
    return `<rim:ExtrinsicObject id="${id}" lid="${id}" mimeType="${
      escapeXml(e.mimeType ?? "application/dicom")
    }" objectType="${STABLE_ENTRY}" status="${escapeXml(e.statusUrn)}"${
      this.#home(e)
    }>${slot("creationTime", e.creationTime)}${slot("hash", e.hash)}${
      slot("repositoryUniqueId", e.repositoryUniqueId)
    }${slot("serviceStartTime", e.serviceStartTime)}${
      slot("serviceStopTime", e.serviceStopTime)
    }${slot("size", e.size)}${slot("sourcePatientId", e.sourcePatientId)}${
      name(e.title)
    }${code(CLASS_CODE_SCHEME, e.classCode)}${
      code(FORMAT_CODE_SCHEME, e.formatCode ?? KOS_FORMAT_CODE)
    }${code(TYPE_CODE_SCHEME, e.typeCode)}${
      external(PATIENT_ID_SCHEME, e.patientId, "XDSDocumentEntry.patientId")
    }${
      external(UNIQUE_ID_SCHEME, e.uniqueId, "XDSDocumentEntry.uniqueId")
    }</rim:ExtrinsicObject>`;
  }
}
