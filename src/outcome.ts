/**
 * What exchanges report: one outcome per requested document, and one
 * report per attempt. Types only.
 *
 * @module
 */

import type { Rad69Error } from "./errors.ts";
import type { Rad69Instance } from "./instance.ts";
import type { InstanceReference } from "./reference_types.ts";

/**
 * What became of one requested instance: `delivered` with the instance, or
 * `failed` with the reason. Check `status` to narrow it.
 *
 * @example Describe every outcome of a call
 * ```ts
 * import assert from "node:assert/strict";
 * import { type InstanceOutcome, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * function describe(outcome: InstanceOutcome): string {
 *   return outcome.status === "delivered"
 *     ? `delivered (${outcome.instance.bytes.length} bytes)`
 *     : `failed: ${outcome.error.name}`;
 * }
 * const [kept, gone] = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: [kept!] });
 * const client = new Rad69Client({ url: server.url });
 * const lines: string[] = [];
 * for await (const outcome of client.retrieve([kept!, gone!])) {
 *   lines.push(describe(outcome));
 * }
 * assert.deepEqual(lines, [
 *   `delivered (${kept!.bytes.length} bytes)`,
 *   "failed: XDSMissingDocumentError",
 * ]);
 * ```
 */
export type InstanceOutcome = ExchangeOutcome<InstanceReference, Rad69Instance>;

/**
 * What became of one requested document of any transaction: `delivered`
 * with what was made of its bytes, or `failed` with the reason.
 *
 * @typeParam Ref What was requested.
 * @typeParam Delivered What a delivered document becomes.
 */
export type ExchangeOutcome<Ref, Delivered> =
  | {
    /** The document arrived, verified. */
    readonly status: "delivered";
    /** What was requested. */
    readonly ref: Ref;
    /** What arrived. */
    readonly instance: Delivered;
  }
  | {
    /** The document did not arrive. */
    readonly status: "failed";
    /** What was requested. */
    readonly ref: Ref;
    /** Why it did not arrive. */
    readonly error: Rad69Error;
  };

/**
 * One attempt of an exchange, as reported to `onAttempt`.
 *
 * @example A 503, then a success
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AttemptReport, Rad69Client } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * server.enqueue({ http: { status: 503 } });
 * const client = new Rad69Client({ url: server.url, retryBaseDelayMs: 1 });
 * const reports: AttemptReport[] = [];
 * for await (const _ of client.retrieve(study, { onAttempt: (r) => reports.push(r) })) {
 *   // consume
 * }
 * assert.deepEqual(reports.map((r) => [r.attempt, r.delivered, r.retrying]), [
 *   [1, 0, 1],
 *   [2, 1, 0],
 * ]);
 * assert.equal(reports[0]!.transientError?.name, "Rad69HttpError");
 * ```
 */
export interface AttemptReport {
  /** 1 for the first try. */
  readonly attempt: number;
  /** How many instances this attempt asked for. */
  readonly requested: number;
  /** How many it delivered. */
  readonly delivered: number;
  /** How many failed permanently (or transiently on the last attempt). */
  readonly failed: number;
  /** How many failed transiently and will be asked for again. */
  readonly retrying: number;
  /** The first transient error, when there was one. */
  readonly transientError?: Rad69Error;
  /** Milliseconds waited before the next attempt (0 when none follows). */
  readonly delayMs: number;
  /** The Study Instance UID of the request, when all its instances share it. */
  readonly studyUid?: string;
  /** The Series Instance UID of the request, when all its instances share it. */
  readonly seriesUid?: string;
}

/**
 * Per-call options.
 *
 * @example Watch the attempts and bytes of one call
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type AttemptReport,
 *   Rad69Client,
 *   type RetrieveCallOptions,
 * } from "@rad69/client";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * const client = new Rad69Client({ url: server.url });
 * const attempts: AttemptReport[] = [];
 * let bytes = 0;
 * const options: RetrieveCallOptions = {
 *   signal: new AbortController().signal,
 *   onAttempt: (report) => attempts.push(report),
 *   onBytes: (n) => bytes += n,
 * };
 * for await (const outcome of client.retrieve(study, options)) {
 *   assert.equal(outcome.status, "delivered");
 * }
 * assert.equal(attempts.length, 1);
 * assert.equal(attempts[0]!.delivered, 1);
 * assert.ok(bytes > study[0]!.bytes.length); // the part plus MIME framing
 * ```
 */
export interface RetrieveCallOptions {
  /** Stops this call (combined with the client's signal). */
  signal?: AbortSignal;
  /** Called after every attempt of every request. */
  onAttempt?: (report: AttemptReport) => void;
  /** Called with the byte count of every body chunk read. */
  onBytes?: (bytes: number) => void;
}
