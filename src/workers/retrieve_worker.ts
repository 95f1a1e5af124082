/**
 * The entry point of a retrieve worker (a module Web Worker started by
 * {@linkcode WorkerPool}). For each job it runs one exchange with retries
 * ({@linkcode retrieveWithRetries}): the fetch, the multipart split and the
 * DICOM decode happen here, off the main thread. Outcomes go back in order;
 * the bytes of delivered instances are transferred, not copied.
 *
 * Flow control: a job sends at most `prefetch` delivered instances ahead of
 * the consumer, then stops reading the body until the main thread grants
 * credit, so memory stays bounded whatever the consumer's pace.
 *
 * @module
 */

import { createTlsHttpClient, type Rad69TlsOptions } from "../tls.ts";
import { Rad69Error } from "../errors.ts";
import type { Rad69Logger } from "../logger.ts";
import type { InstanceReference } from "../reference_types.ts";
import type { InstanceOutcome } from "../outcome.ts";
import { retrieveWithRetries } from "../retry.ts";
import { makeConfig } from "../config.ts";
import {
  type JobMessage,
  type MainToWorkerMessage,
  serializeError,
  type WireOutcome,
  type WorkerToMainMessage,
} from "./_messages.ts";

/** The part of the worker global scope this module uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<MainToWorkerMessage>) => void) | null;
  postMessage(message: WorkerToMainMessage, transfer?: Transferable[]): void;
}

/** Byte counts are sent once this many have accumulated… */
const BYTES_REPORT_THRESHOLD = 1 << 20;
/** …or after this many milliseconds. */
const BYTES_REPORT_MS = 100;

/** One running job: its abort controller and its flow-control state. */
interface RunningJob {
  readonly controller: AbortController;
  /** Delivered instances the consumer took (credit granted). */
  granted: number;
  /** Wakes the job when credit arrives or it is aborted. */
  wake: (() => void) | undefined;
}

const running = new Map<number, RunningJob>();
const tlsClients = new Map<string, Deno.HttpClient>();

/** The worker's HTTP client for this TLS material (kept for the worker's life). */
function tlsClient(tls: Rad69TlsOptions): Deno.HttpClient {
  const key = JSON.stringify([tls.cert, tls.key, tls.caCerts]);
  let client = tlsClients.get(key);
  if (!client) {
    client = createTlsHttpClient(tls);
    tlsClients.set(key, client);
  }
  return client;
}

/** Sends outcomes in batches: one message per turn of the event loop. */
class OutcomeSender {
  #scope: WorkerScope;
  #id: number;
  #refs: Map<InstanceReference, number>;
  #byUid: Map<string, number>;
  #batch: WireOutcome[] = [];
  #transfer = new Set<ArrayBuffer>();
  #sent = new WeakSet<ArrayBuffer>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #bytes = 0;
  #bytesTimer: ReturnType<typeof setTimeout> | undefined;
  /** Delivered instances sent so far. */
  delivered = 0;

  constructor(scope: WorkerScope, id: number, refs: InstanceReference[]) {
    this.#scope = scope;
    this.#id = id;
    this.#refs = new Map(refs.map((ref, index) => [ref, index]));
    this.#byUid = new Map(refs.map((ref, index) => [ref.instanceUid, index]));
  }

  #indexOf(ref: InstanceReference): number {
    return this.#refs.get(ref) ?? this.#byUid.get(ref.instanceUid) ?? -1;
  }

  /** Queues an outcome; it is posted when the job next waits for I/O. */
  push(outcome: InstanceOutcome): void {
    const index = this.#indexOf(outcome.ref);
    if (outcome.status === "failed") {
      this.#batch.push({
        status: "failed",
        index,
        error: serializeError(outcome.error),
      });
    } else {
      let bytes = outcome.instance.bytes;
      const buffer = bytes.buffer;
      if (buffer instanceof ArrayBuffer && this.#sent.has(buffer)) {
        // Handed over in an earlier message: this view is detached now.
        this.#batch.push({
          status: "failed",
          index,
          error: serializeError(
            new Rad69Error(
              `Worker could not hand over instance "${outcome.ref.instanceUid}": its bytes were already transferred`,
              { instance: outcome.ref },
            ),
          ),
        });
        this.#schedule();
        return;
      }
      const whole = buffer instanceof ArrayBuffer && bytes.byteOffset === 0 &&
        bytes.byteLength === buffer.byteLength;
      if (!whole && !this.#transfer.has(buffer as ArrayBuffer)) {
        // A view into a larger (or shared) buffer: copy it once rather
        // than send, or detach, the whole buffer.
        bytes = bytes.slice();
      }
      this.#transfer.add(bytes.buffer as ArrayBuffer);
      this.delivered++;
      this.#batch.push({
        status: "delivered",
        index,
        bytes,
        warnings: outcome.instance.warnings,
        repositoryUniqueId: outcome.instance.repositoryUniqueId,
        mimeType: outcome.instance.mimeType,
      });
    }
    this.#schedule();
  }

  #schedule(): void {
    // A macrotask runs once the job awaits I/O, so outcomes produced from
    // one chunk (even sharing one buffer) travel in one message.
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, 0);
  }

  /** Counts body bytes; sent batched. */
  addBytes(count: number): void {
    this.#bytes += count;
    if (this.#bytes >= BYTES_REPORT_THRESHOLD) {
      this.#flushBytes();
    } else {
      this.#bytesTimer ??= setTimeout(() => {
        this.#bytesTimer = undefined;
        this.#flushBytes();
      }, BYTES_REPORT_MS);
    }
  }

  #flushBytes(): void {
    clearTimeout(this.#bytesTimer);
    this.#bytesTimer = undefined;
    if (this.#bytes === 0) return;
    const bytes = this.#bytes;
    this.#bytes = 0;
    this.#scope.postMessage({ type: "bytes", id: this.#id, bytes });
  }

  /** Posts what is queued now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushBytes();
    if (this.#batch.length === 0) return;
    const outcomes = this.#batch;
    const transfer = [...this.#transfer];
    this.#batch = [];
    this.#transfer = new Set();
    for (const buffer of transfer) this.#sent.add(buffer);
    this.#scope.postMessage(
      { type: "outcomes", id: this.#id, outcomes },
      transfer,
    );
  }

  /** Posts any other message, after what is queued (order is kept). */
  post(message: WorkerToMainMessage): void {
    this.flush();
    this.#scope.postMessage(message);
  }
}

/** Waits until the consumer granted credit for one more delivered instance. */
async function waitForCredit(
  job: RunningJob,
  sender: OutcomeSender,
  prefetch: number,
): Promise<void> {
  while (
    sender.delivered >= job.granted + prefetch &&
    !job.controller.signal.aborted
  ) {
    sender.flush();
    await new Promise<void>((resolve) => job.wake = resolve);
    job.wake = undefined;
  }
  job.controller.signal.throwIfAborted();
}

async function runJob(scope: WorkerScope, message: JobMessage): Promise<void> {
  const { id, refs, options: wire } = message;
  const job: RunningJob = {
    controller: new AbortController(),
    granted: 0,
    wake: undefined,
  };
  running.set(id, job);
  const sender = new OutcomeSender(scope, id, refs);
  try {
    const { settings, tls, logLevels, reportAttempts, reportBytes, prefetch } =
      wire;
    const logger: Rad69Logger = {};
    for (const level of logLevels) {
      logger[level] = (line: string) =>
        sender.post({ type: "log", id, level, message: line });
    }
    const config = makeConfig(settings, {
      client: tls ? tlsClient(tls) : undefined,
      // The main thread's logger, which receives these lines, redacts them.
      redactedLogger: logger,
      signal: job.controller.signal,
      onBytes: reportBytes ? (count) => sender.addBytes(count) : undefined,
      onAttempt: reportAttempts
        ? (report) => {
          const { transientError, ...plain } = report;
          sender.post({
            type: "attempt",
            id,
            report: transientError
              ? { ...plain, transientError: serializeError(transientError) }
              : plain,
          });
        }
        : undefined,
    });
    let settled = 0;
    for await (const outcome of retrieveWithRetries(refs, config)) {
      sender.push(outcome);
      settled++;
      // Pause reading while the consumer is behind (not after the last
      // outcome: nothing is left to read, and the job should end now).
      if (outcome.status === "delivered" && settled < refs.length) {
        await waitForCredit(job, sender, Math.max(1, prefetch));
      }
    }
    sender.post({ type: "done", id });
  } catch (error) {
    sender.post({ type: "error", id, error: serializeError(error) });
  } finally {
    running.delete(id);
  }
}

function onMessage(scope: WorkerScope, message: MainToWorkerMessage): void {
  switch (message.type) {
    case "job":
      void runJob(scope, message);
      break;
    case "abort": {
      const job = running.get(message.id);
      if (job) {
        job.controller.abort(
          new DOMException("The retrieve job was cancelled", "AbortError"),
        );
        job.wake?.();
      }
      break;
    }
    case "credit": {
      const job = running.get(message.id);
      if (job) {
        job.granted += message.count;
        job.wake?.();
      }
      break;
    }
  }
}

/** `true` when this module runs inside a worker. */
function inWorker(): boolean {
  const scopeClass = (globalThis as { WorkerGlobalScope?: unknown })
    .WorkerGlobalScope;
  return typeof scopeClass === "function" && globalThis instanceof scopeClass;
}

if (inWorker()) {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (event) => onMessage(scope, event.data);
  scope.postMessage({ type: "ready", id: 0 });
}
