/**
 * The messages exchanged between the worker pool and its retrieve workers,
 * and the (de)serialisation of what structured clone cannot carry: error
 * classes (a clone keeps neither the class nor the extra fields) and
 * options holding functions or resources. Private to the package.
 *
 * @module
 */

import * as errorClasses from "../errors.ts";
import type { Rad69TlsOptions } from "../tls.ts";
import type { InstanceReference } from "../reference_types.ts";
import type { ExchangeConfig, ExchangeSettings } from "../config.ts";
import type { AttemptReport } from "../outcome.ts";
import type { RegistryError } from "../soap/types.ts";

/** A logger level a worker forwards to the main thread. */
export type LogLevel = "debug" | "info" | "warn";

/**
 * The structured-cloneable part of {@linkcode RetryOptions}, plus what a
 * worker needs to rebuild the rest (TLS material, which callbacks to proxy).
 */
export interface WorkerJobOptions {
  /** The resolved exchange settings, as the main thread resolved them. */
  settings: ExchangeSettings;
  /** TLS material; the worker builds (and owns) its own `Deno.HttpClient`. */
  tls?: Rad69TlsOptions;
  /** The logger levels the main thread listens to. */
  logLevels: LogLevel[];
  /** Whether to send attempt reports. */
  reportAttempts: boolean;
  /** Whether to send body byte counts. */
  reportBytes: boolean;
  /**
   * How many delivered instances the worker may send ahead of the consumer
   * before it waits for credit (flow control: it then stops reading the
   * body, so memory stays bounded).
   */
  prefetch: number;
}

/** Main thread to worker: run a job. */
export interface JobMessage {
  /** Message kind. */
  readonly type: "job";
  /** The job id, echoed in every answer. */
  readonly id: number;
  /** The instances of one request. */
  readonly refs: InstanceReference[];
  /** How to retrieve them. */
  readonly options: WorkerJobOptions;
}

/** Main thread to worker: stop a job. */
export interface AbortMessage {
  /** Message kind. */
  readonly type: "abort";
  /** The job id. */
  readonly id: number;
}

/** Main thread to worker: the consumer took `count` more delivered instances. */
export interface CreditMessage {
  /** Message kind. */
  readonly type: "credit";
  /** The job id. */
  readonly id: number;
  /** How many more delivered instances the worker may send. */
  readonly count: number;
}

/** Everything the main thread sends. */
export type MainToWorkerMessage = JobMessage | AbortMessage | CreditMessage;

/** An outcome as sent by a worker (the ref is an index into the job's refs). */
export type WireOutcome =
  | {
    /** Delivered. */
    readonly status: "delivered";
    /** Index of the instance in the job's `refs`. */
    readonly index: number;
    /** The instance bytes (their buffer is transferred, not copied). */
    readonly bytes: Uint8Array;
    /** Warnings the server reported for it. */
    readonly warnings: readonly RegistryError[];
    /** The RepositoryUniqueId the server answered with. */
    readonly repositoryUniqueId: string;
    /** The mimeType the server declared. */
    readonly mimeType: string;
  }
  | {
    /** Failed. */
    readonly status: "failed";
    /** Index of the instance in the job's `refs`. */
    readonly index: number;
    /** Why. */
    readonly error: WireError;
  };

/** Worker to main thread: outcomes, in the order they were produced. */
export interface OutcomesMessage {
  /** Message kind. */
  readonly type: "outcomes";
  /** The job id. */
  readonly id: number;
  /** The outcomes. */
  readonly outcomes: WireOutcome[];
}

/** Worker to main thread: body bytes read since the last report. */
export interface BytesMessage {
  /** Message kind. */
  readonly type: "bytes";
  /** The job id. */
  readonly id: number;
  /** Byte count. */
  readonly bytes: number;
}

/** Worker to main thread: one attempt ended. */
export interface AttemptMessage {
  /** Message kind. */
  readonly type: "attempt";
  /** The job id. */
  readonly id: number;
  /** The report, its error serialised. */
  readonly report: Omit<AttemptReport, "transientError"> & {
    readonly transientError?: WireError;
  };
}

/** Worker to main thread: a log line. */
export interface LogMessage {
  /** Message kind. */
  readonly type: "log";
  /** The job id. */
  readonly id: number;
  /** The logger level. */
  readonly level: LogLevel;
  /** The line. */
  readonly message: string;
}

/** Worker to main thread: the job ended; every outcome was sent. */
export interface DoneMessage {
  /** Message kind. */
  readonly type: "done";
  /** The job id. */
  readonly id: number;
}

/** Worker to main thread: the job threw (aborted, or a bug). */
export interface JobErrorMessage {
  /** Message kind. */
  readonly type: "error";
  /** The job id. */
  readonly id: number;
  /** What was thrown. */
  readonly error: WireError;
}

/** Worker to main thread: the worker's modules are loaded; it takes jobs. */
export interface ReadyMessage {
  /** Message kind. */
  readonly type: "ready";
  /** Always 0: not about a job. */
  readonly id: 0;
}

/** Everything a worker sends. */
export type WorkerToMainMessage =
  | ReadyMessage
  | OutcomesMessage
  | BytesMessage
  | AttemptMessage
  | LogMessage
  | DoneMessage
  | JobErrorMessage;

/** An error flattened for structured clone. */
export interface WireError {
  /** `error.name`. */
  readonly name: string;
  /** Constructor names up the prototype chain, most derived first. */
  readonly classes: readonly string[];
  /** `error.message`. */
  readonly message: string;
  /** `error.stack`, when there is one. */
  readonly stack?: string;
  /**
   * Own enumerable fields in their order (name, code, status, instance,
   * failures…), encoded.
   */
  readonly fields: Record<string, unknown>;
  /** `true` when the error has a `cause` (which may be `undefined`). */
  readonly hasCause: boolean;
  /** The encoded cause. */
  readonly cause?: unknown;
}

/** The key that marks an encoded error inside an encoded value. */
const ERROR_TAG = "$rad69.error";
/** Deeper values are replaced by their string form (guards against cycles). */
const MAX_DEPTH = 16;
/** Fields handled apart from the own enumerable ones. */
const SKIPPED_FIELDS = new Set(["message", "stack", "cause"]);

// deno-lint-ignore no-explicit-any
type ErrorConstructorLike = new (...args: any[]) => Error;

/** Every error class of `errors.ts`, by class name. */
const RAD69_CLASSES: ReadonlyMap<string, ErrorConstructorLike> = new Map(
  (Object.values(errorClasses) as unknown[])
    .filter((value): value is ErrorConstructorLike =>
      typeof value === "function" &&
      (value === errorClasses.Rad69Error ||
        value.prototype instanceof errorClasses.Rad69Error)
    )
    .map((cls) => [cls.name, cls]),
);

/** The built-in error classes rebuilt by name. */
const BUILTIN_CLASSES: ReadonlyMap<string, ErrorConstructorLike> = new Map<
  string,
  ErrorConstructorLike
>([
  ["Error", Error],
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
  ["ReferenceError", ReferenceError],
  ["EvalError", EvalError],
  ["URIError", URIError],
]);

/**
 * The names of the error classes that survive the trip through a worker
 * with their class and fields.
 *
 * @returns The class names of `errors.ts`.
 */
export function knownErrorClassNames(): string[] {
  return [...RAD69_CLASSES.keys()];
}

function isErrorLike(value: unknown): value is Error {
  return value instanceof Error || value instanceof DOMException;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Encodes a value so that structured clone keeps errors and drops functions. */
function encodeValue(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return value;
  const type = typeof value;
  if (type === "function" || type === "symbol") return undefined;
  if (type !== "object") return value;
  if (depth > MAX_DEPTH) return String(value);
  if (isErrorLike(value)) {
    return { [ERROR_TAG]: serializeError(value, depth + 1) };
  }
  if (Array.isArray(value)) {
    return value.map((item) => encodeValue(item, depth + 1));
  }
  if (
    ArrayBuffer.isView(value) || value instanceof ArrayBuffer ||
    value instanceof Date || value instanceof RegExp
  ) {
    return value;
  }
  if (isPlainObject(value as object)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as object)) {
      out[key] = encodeValue(item, depth + 1);
    }
    return out;
  }
  return String(value);
}

/** Reverses {@linkcode encodeValue}. */
function decodeValue(
  value: unknown,
  resolveRef: ((ref: InstanceReference) => InstanceReference) | undefined,
  depth: number,
): unknown {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => decodeValue(item, resolveRef, depth + 1));
  }
  if (!isPlainObject(value)) return value;
  if (ERROR_TAG in value) {
    return rebuildError(
      (value as Record<string, WireError>)[ERROR_TAG]!,
      resolveRef,
      depth + 1,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = decodeValue(item, resolveRef, depth + 1);
  }
  return out;
}

/**
 * Flattens an error (any thrown value) into a structured-cloneable record
 * that {@linkcode deserializeError} turns back into the same class with the
 * same fields (causes and `failures` included, recursively).
 *
 * @param error What was thrown.
 * @param depth Nesting depth (internal).
 * @returns The record.
 */
export function serializeError(error: unknown, depth = 0): WireError {
  if (!isErrorLike(error)) {
    return {
      name: "Error",
      classes: ["Error"],
      message: typeof error === "string" ? error : String(error),
      fields: {},
      hasCause: false,
    };
  }
  const classes: string[] = [];
  for (
    let proto = Object.getPrototypeOf(error);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name = proto.constructor?.name;
    if (typeof name === "string" && name !== "") classes.push(name);
  }
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (SKIPPED_FIELDS.has(key)) continue;
    fields[key] = encodeValue(
      (error as unknown as Record<string, unknown>)[key],
      depth + 1,
    );
  }
  const hasCause = Object.hasOwn(error, "cause");
  const wire: {
    name: string;
    classes: string[];
    message: string;
    stack?: string;
    fields: Record<string, unknown>;
    hasCause: boolean;
    cause?: unknown;
  } = {
    name: String(error.name),
    classes,
    message: String(error.message),
    fields,
    hasCause,
  };
  if (typeof error.stack === "string") wire.stack = error.stack;
  if (hasCause) wire.cause = encodeValue(error.cause, depth + 1);
  return wire;
}

function rebuildError(
  wire: WireError,
  resolveRef: ((ref: InstanceReference) => InstanceReference) | undefined,
  depth: number,
): Error {
  let cls: ErrorConstructorLike | undefined;
  let isDomException = false;
  for (const name of wire.classes) {
    cls = RAD69_CLASSES.get(name);
    if (cls) break;
    if (name === "DOMException") {
      isDomException = true;
      break;
    }
    cls = BUILTIN_CLASSES.get(name);
    if (cls) break;
  }
  const cause = wire.hasCause
    ? decodeValue(wire.cause, resolveRef, depth + 1)
    : undefined;
  let error: Error;
  if (isDomException) {
    error = new DOMException(wire.message, wire.name);
    if (wire.hasCause) {
      Object.defineProperty(error, "cause", {
        value: cause,
        writable: true,
        configurable: true,
      });
    }
  } else {
    error = Reflect.construct(
      Error,
      wire.hasCause ? [wire.message, { cause }] : [wire.message],
      cls ?? Error,
    ) as Error;
  }
  if (wire.stack !== undefined) {
    Object.defineProperty(error, "stack", {
      value: wire.stack,
      writable: true,
      configurable: true,
    });
  }
  // Own fields in their original order (`name` among them for the
  // package's classes, which set it in their constructors).
  for (const [key, encoded] of Object.entries(wire.fields)) {
    let value = decodeValue(encoded, resolveRef, depth + 1);
    if (key === "instance" && resolveRef && isRefLike(value)) {
      value = resolveRef(value);
    }
    Object.defineProperty(error, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  if (error.name !== wire.name) {
    Object.defineProperty(error, "name", {
      value: wire.name,
      writable: true,
      configurable: true,
    });
  }
  return error;
}

function isRefLike(value: unknown): value is InstanceReference {
  return value !== null && typeof value === "object" &&
    typeof (value as InstanceReference).instanceUid === "string";
}

/**
 * Rebuilds an error flattened by {@linkcode serializeError}: the class of
 * `errors.ts` (or the built-in class, or `DOMException`) named first in its
 * prototype chain, its message, stack, cause and every field.
 *
 * @param wire The record.
 * @param resolveRef Maps an `instance` field back to the caller's own
 * reference object (a clone is not the object the caller passed in).
 * @returns The error.
 */
export function deserializeError(
  wire: WireError,
  resolveRef?: (ref: InstanceReference) => InstanceReference,
): Error {
  return rebuildError(wire, resolveRef, 0);
}

/**
 * What a worker receives with each job: the resolved settings (plain data,
 * not copied field by field), the TLS material, which callbacks to proxy,
 * and the prefetch window.
 *
 * @param config The main thread's resolved config.
 * @param extra TLS material and the prefetch window.
 * @returns The options to post with each job.
 */
export function toWorkerJobOptions(
  config: ExchangeConfig,
  extra: { tls?: Rad69TlsOptions | undefined; prefetch: number },
): WorkerJobOptions {
  const logger = config.logger;
  return {
    settings: config.settings,
    ...(extra.tls !== undefined ? { tls: extra.tls } : {}),
    logLevels: (["debug", "info", "warn"] as const).filter((level) =>
      typeof logger[level] === "function"
    ),
    reportAttempts: config.onAttempt !== undefined,
    reportBytes: config.onBytes !== undefined,
    prefetch: extra.prefetch,
  };
}
