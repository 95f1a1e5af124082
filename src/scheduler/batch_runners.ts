/**
 * The two ways to run one request of a plan, behind one seam: on the main
 * thread (the exchange runs here, paced by a credit gate) or in a Web
 * Worker (the exchange runs there; outcomes, byte counts, attempt reports
 * and log lines come back as messages). The scheduler chooses per request.
 *
 * @module
 */

import type { ExchangeConfig } from "../config.ts";
import type { Rad69Error } from "../errors.ts";
import { Rad69Instance } from "../instance.ts";
import type { AttemptReport, ExchangeOutcome } from "../outcome.ts";
import type { InstanceReference } from "../reference_types.ts";
import { SinkError } from "../exchange/transaction.ts";
import { withCallbacks } from "../config.ts";
import {
  deserializeError,
  type WorkerJobOptions,
  type WorkerToMainMessage,
} from "../workers/_messages.ts";
import type { WorkerJob, WorkerPool } from "../workers/worker_pool.ts";
import { asRad69Error, type BatchState, CreditGate } from "./flow.ts";

/**
 * Runs one request of a plan on this thread, with retries: one outcome per
 * instance (what a delivered instance becomes is the transaction's).
 */
export type RunBatch<Delivered> = (
  refs: readonly InstanceReference[],
  config: ExchangeConfig,
) => AsyncIterable<ExchangeOutcome<InstanceReference, Delivered>>;

/** What a runner reports to, and reads from, the scheduler. */
export interface RunnerHost<Delivered = Rad69Instance> {
  /** The resolved config (callbacks and logger included). */
  readonly config: ExchangeConfig;
  /** How many delivered instances may run ahead of the consumer. */
  readonly prefetch: number;
  /** Runs one request on the main thread. */
  readonly runBatch: RunBatch<Delivered>;
  /** Aborts every request of the run. */
  readonly signal: AbortSignal;
  /** Records the outcome of the request's instance at `at`. */
  emit(
    state: BatchState<Delivered>,
    outcome: ExchangeOutcome<InstanceReference, Delivered>,
    at: number,
  ): void;
  /** Ends the request (failing what has no outcome yet). */
  end(state: BatchState<Delivered>, error?: Rad69Error): void;
  /** Runs a user callback; what it throws stops the run. */
  guard(fn: () => void): void;
  /** Stops the run with an error for the caller (a disk error). */
  stop(error: unknown): void;
  /** Keeps a task to await when the run ends. */
  track(task: Promise<void>): void;
}

/**
 * Runs one request on the main thread.
 *
 * @param host The scheduler.
 * @param state The request.
 */
export function startOnMainThread<Delivered>(
  host: RunnerHost<Delivered>,
  state: BatchState<Delivered>,
): void {
  const gate = new CreditGate(host.prefetch, host.signal);
  state.credit = (count) => gate.grant(count);
  const byRef = new Map(state.refs.map((ref, at) => [ref, at]));
  const at = (ref: InstanceReference) =>
    byRef.get(ref) ??
      state.refs.findIndex((r) => r.instanceUid === ref.instanceUid);
  const config = withCallbacks(host.config, {
    ...host.config,
    signal: host.signal,
  });
  const run = async () => {
    let settled = 0;
    try {
      for await (const outcome of host.runBatch(state.refs, config)) {
        host.emit(state, outcome, at(outcome.ref));
        // Pause reading while the consumer is behind (not after the last
        // outcome: nothing is left to read).
        const left = ++settled < state.refs.length;
        if (outcome.status === "delivered" && left) await gate.delivered();
        if (host.signal.aborted) return;
      }
      host.end(state);
    } catch (error) {
      if (error instanceof SinkError) return host.stop(error.cause);
      if (host.signal.aborted) return;
      host.end(state, asRad69Error(error, `Request ${state.index + 1} failed`));
    } finally {
      gate.close();
    }
  };
  host.track(run());
}

/**
 * Runs one request in a worker of the pool.
 *
 * @param host The scheduler.
 * @param state The request.
 * @param pool The worker pool.
 * @param jobOptions What the worker receives.
 * @param onCrash Called when the worker died; `loaded` tells whether the
 * request may have been sent.
 */
export function startInWorker(
  host: RunnerHost,
  state: BatchState,
  pool: WorkerPool,
  jobOptions: WorkerJobOptions,
  onCrash: (error: Rad69Error, loaded: boolean) => void,
): void {
  let job: WorkerJob | undefined;
  job = pool.submit(state.refs, jobOptions, {
    onMessage: (message) => onWorkerMessage(host, state, message),
    onCrash,
  });
  state.credit = (count) => job?.credit(count);
  state.cancel = () => {
    job?.cancel();
    job = undefined;
  };
}

/** Turns one message of a worker into outcomes, callbacks or the end. */
function onWorkerMessage(
  host: RunnerHost,
  state: BatchState,
  message: WorkerToMainMessage,
): void {
  const resolveRef = (ref: InstanceReference) =>
    state.byUid.get(ref.instanceUid) ?? ref;
  const config = host.config;
  switch (message.type) {
    case "outcomes":
      for (const wire of message.outcomes) {
        const ref = state.refs[wire.index];
        if (!ref) continue;
        host.emit(
          state,
          wire.status === "delivered"
            ? {
              status: "delivered",
              ref,
              instance: new Rad69Instance({
                ref,
                bytes: wire.bytes,
                warnings: wire.warnings,
                repositoryUniqueId: wire.repositoryUniqueId,
                mimeType: wire.mimeType,
              }),
            }
            : {
              status: "failed",
              ref,
              error: asRad69Error(
                deserializeError(wire.error, resolveRef),
                `Instance "${ref.instanceUid}" failed in a worker`,
                ref,
              ),
            },
          wire.index,
        );
      }
      break;
    case "bytes":
      host.guard(() => config.onBytes?.(message.bytes));
      break;
    case "attempt": {
      const { transientError, ...plain } = message.report;
      const report: AttemptReport = transientError
        ? {
          ...plain,
          transientError: asRad69Error(
            deserializeError(transientError, resolveRef),
            "Transient failure",
          ),
        }
        : plain;
      host.guard(() => config.onAttempt?.(report));
      break;
    }
    case "log":
      host.guard(() => config.logger[message.level]?.(message.message));
      break;
    case "done":
      host.end(state);
      break;
    case "error":
      host.end(
        state,
        asRad69Error(
          deserializeError(message.error, resolveRef),
          `Request ${state.index + 1} failed in a worker`,
        ),
      );
      break;
  }
}
