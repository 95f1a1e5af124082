/**
 * Retries of transient failures: one exchange, then re-requests of only the
 * instances that failed transiently, with exponential backoff and jitter.
 *
 * @module
 */

import {
  Rad69Error,
  Rad69HttpError,
  Rad69NetworkError,
  SoapFaultError,
  TruncatedResponseError,
} from "./errors.ts";
import {
  type ExchangeConfig,
  type ExchangeOptions,
  resolveExchangeConfig,
} from "./config.ts";
import type {
  AttemptReport,
  ExchangeOutcome,
  InstanceOutcome,
} from "./outcome.ts";
import type { InstanceReference } from "./reference_types.ts";
import {
  RAD69_TRANSACTION,
  type RetrieveBatchOptions,
} from "./retrieve_batch.ts";
import { runExchange } from "./exchange/run_exchange.ts";
import { redactError } from "./redact.ts";
import { isUnauthorized, relogin, stillRefused } from "./exchange/auth.ts";
import type { Transaction } from "./exchange/transaction.ts";

/** HTTP statuses worth retrying. */
const TRANSIENT_STATUS = new Set([408, 429, 502, 503, 504]);

/**
 * Tells whether a failure is transient (worth a retry): connection errors,
 * resets, stalls and timeouts, bodies cut before their closing delimiter,
 * HTTP 408, 429, 502, 503 and 504, and a SOAP Fault other than a Sender
 * (client) fault carried by one of those statuses (a busy server may answer
 * 503 with a Receiver Fault). Missing documents, other 4xx and 5xx, Sender
 * Faults, other Faults, size limits, malformed answers and invalid DICOM
 * are permanent.
 *
 * @param error The failure.
 * @returns `true` when a retry may succeed.
 *
 * @example Sort failures into transient and permanent
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69HttpError, Rad69NetworkError } from "@rad69/client";
 * import { isTransientError } from "./retry.ts";
 *
 * assert.ok(isTransientError(new Rad69NetworkError("Connection reset")));
 * const busy = { url: "http://127.0.0.1/rad69", bodyExcerpt: "" };
 * assert.ok(isTransientError(new Rad69HttpError("Busy", { ...busy, status: 503 })));
 * assert.ok(!isTransientError(new Rad69HttpError("Denied", { ...busy, status: 403 })));
 * ```
 */
export function isTransientError(error: unknown): boolean {
  if (error instanceof Rad69NetworkError) return true;
  if (error instanceof TruncatedResponseError) return true;
  if (error instanceof Rad69HttpError) {
    return TRANSIENT_STATUS.has(error.status);
  }
  if (error instanceof SoapFaultError) {
    return TRANSIENT_STATUS.has(error.status) &&
      !/(^|:)(Sender|Client)$/.test(error.code.trim());
  }
  return false;
}

/** The `Retry-After` an error carries, in seconds, when it carries one. */
function retryAfterOf(error: Rad69Error | undefined): number | undefined {
  if (error instanceof Rad69HttpError || error instanceof SoapFaultError) {
    return error.retryAfterSeconds;
  }
  return undefined;
}

/**
 * Options of {@linkcode retrieveWithRetries}.
 *
 * @example No retry: a 503 fails the instance
 * ```ts
 * import assert from "node:assert/strict";
 * import { retrieveWithRetries, type RetryOptions } from "./retry.ts";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 1 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * server.enqueue({ http: { status: 503 } });
 * const options: RetryOptions = { url: server.url, retries: 0 };
 * const [outcome] = await Array.fromAsync(retrieveWithRetries(study, options));
 * assert.equal(outcome!.status, "failed");
 * assert.equal(server.requests.length, 1);
 * ```
 */
export interface RetryOptions extends
  RetrieveBatchOptions,
  Pick<
    ExchangeOptions,
    "retries" | "retryBaseDelayMs" | "retryMaxDelayMs" | "onAttempt"
  > {}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Computes the delay before attempt `attempt + 1`: exponential with jitter
 * (between half and all of `base * 2^(attempt-1)`), at least what the
 * error's `Retry-After` asked (`Rad69HttpError.retryAfterSeconds`, or the
 * same field on a `SoapFaultError` answered with a `Retry-After` header),
 * and at most `max`.
 *
 * @param attempt The attempt that just failed (1-based).
 * @param error The transient error.
 * @param base The first delay.
 * @param max The cap.
 * @returns Milliseconds to wait.
 *
 * @example Delays of the default backoff
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rad69HttpError } from "@rad69/client";
 * import { backoffDelay } from "./retry.ts";
 *
 * const first = backoffDelay(1, undefined, 500, 30_000);
 * assert.ok(first >= 250 && first <= 500);
 * const third = backoffDelay(3, undefined, 500, 30_000);
 * assert.ok(third >= 1000 && third <= 2000);
 * const busy = new Rad69HttpError("Busy", {
 *   status: 503,
 *   url: "http://127.0.0.1/rad69",
 *   bodyExcerpt: "",
 *   retryAfterSeconds: 5,
 * });
 * assert.equal(backoffDelay(1, busy, 500, 30_000), 5000); // Retry-After wins
 * ```
 */
export function backoffDelay(
  attempt: number,
  error: Rad69Error | undefined,
  base: number,
  max: number,
): number {
  const exp = Math.min(max, base * 2 ** (attempt - 1));
  let delay = exp / 2 + Math.random() * exp / 2;
  const retryAfter = retryAfterOf(error);
  if (retryAfter !== undefined) {
    delay = Math.max(delay, Math.min(max, retryAfter * 1000));
  }
  return Math.round(Math.min(max, delay));
}

/**
 * Runs one exchange for `refs` and retries the instances that failed
 * transiently, re-requesting only those, up to `retries` times. Yields one
 * outcome per distinct instance.
 *
 * @param refs The instances of one request.
 * @param options Transport, request and retry options.
 * @returns The outcomes, delivered ones as they arrive.
 * @throws {DOMException} When `signal` aborts.
 *
 * @example Survive a busy server
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AttemptReport } from "@rad69/client";
 * import { retrieveWithRetries } from "./retry.ts";
 * import { FakeRad69Server, syntheticStudy } from "@rad69/client/testing";
 *
 * const study = syntheticStudy({ series: 1, instancesPerSeries: 2 });
 * await using server = await FakeRad69Server.start({ instances: study });
 * server.enqueue({ http: { status: 503, headers: { "retry-after": "0" } } });
 * const attempts: AttemptReport[] = [];
 * let delivered = 0;
 * for await (
 *   const outcome of retrieveWithRetries(study, {
 *     url: server.url,
 *     retries: 2,
 *     retryBaseDelayMs: 1,
 *     onAttempt: (report) => attempts.push(report),
 *   })
 * ) {
 *   if (outcome.status === "delivered") delivered++;
 * }
 * assert.equal(delivered, 2);
 * assert.deepEqual(attempts.map((a) => a.retrying), [2, 0]);
 * ```
 */
export function retrieveWithRetries(
  refs: readonly InstanceReference[],
  options: RetryOptions | ExchangeConfig,
): AsyncGenerator<InstanceOutcome, void, undefined> {
  return retryExchange(RAD69_TRANSACTION, refs, resolveExchangeConfig(options));
}

/**
 * Runs an exchange of any transaction with retries: transient failures
 * (network, 5xx, 429, Receiver faults) are asked for again, alone, after a
 * backoff; everything else is final.
 *
 * @param transaction The transaction carried.
 * @param refs What to request.
 * @param config The resolved config.
 * @returns One outcome per requested document.
 */
export async function* retryExchange<Ref, Delivered>(
  transaction: Transaction<Ref, Delivered>,
  refs: readonly Ref[],
  config: ExchangeConfig,
): AsyncGenerator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
  const { retries, retryBaseDelayMs: base, retryMaxDelayMs: max } =
    config.settings;
  const logger = config.logger;
  const batch = batchOf(refs);
  let pending: readonly Ref[] = refs;
  // A re-login grants one more attempt, outside the retry budget.
  let relogged = false;
  let granted = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const last = attempt - granted > retries;
    const again: Ref[] = [];
    const refused: Ref[] = [];
    let refusal: Rad69Error | undefined;
    let delivered = 0;
    let failed = 0;
    let transientError: Rad69Error | undefined;
    for await (const outcome of runExchange(transaction, pending, config)) {
      if (outcome.status === "delivered") {
        delivered++;
        yield outcome;
      } else if (config.auth?.onUnauthorized && isUnauthorized(outcome.error)) {
        if (relogged) {
          failed++;
          const error = stillRefused(config, outcome.error);
          yield {
            ...outcome,
            error: redactError(error, config.session.secrets),
          };
        } else {
          refusal ??= outcome.error;
          refused.push(outcome.ref);
        }
      } else if (!last && isTransientError(outcome.error)) {
        transientError ??= outcome.error;
        again.push(outcome.ref);
      } else {
        failed++;
        yield outcome;
      }
    }
    if (refusal) {
      relogged = true;
      try {
        await relogin(config, refusal);
        for (const ref of refused) again.push(ref);
        granted++;
      } catch (error) {
        if (!(error instanceof Rad69Error)) throw error;
        for (const ref of refused) {
          failed++;
          yield {
            status: "failed",
            ref,
            error: redactError(error, config.session.secrets),
          };
        }
      }
    }
    const delayMs = again.length > 0
      ? backoffDelay(attempt, transientError, base, max)
      : 0;
    const report: AttemptReport = {
      attempt,
      requested: pending.length,
      delivered,
      failed,
      retrying: again.length,
      delayMs,
      ...(transientError ? { transientError } : {}),
      ...batch,
    };
    config.onAttempt?.(report);
    logger.debug?.(
      `Attempt ${attempt}: ${pending.length} requested, ${delivered} delivered, ${failed} failed, ${again.length} to retry`,
    );
    if (again.length > 0) {
      logger.warn?.(
        `Retrying ${again.length} ${transaction.noun}(s) in ${delayMs} ms (attempt ${
          attempt + 1
        } of ${retries + 1}) after: ${transientError?.message}`,
      );
      await sleep(delayMs, config.signal);
    }
    pending = again;
  }
}

/** The study and series a request is for, when all its instances share them. */
function batchOf(
  items: readonly unknown[],
): { studyUid?: string; seriesUid?: string } {
  const first = items[0] as Partial<InstanceReference> | undefined;
  if (!first || first.studyUid === undefined) return {};
  const refs = items as readonly InstanceReference[];
  const out: { studyUid?: string; seriesUid?: string } = {};
  if (refs.every((r) => r.studyUid === first.studyUid)) {
    out.studyUid = first.studyUid;
    if (refs.every((r) => r.seriesUid === first.seriesUid)) {
      out.seriesUid = first.seriesUid;
    }
  }
  return out;
}
