/**
 * The CLI's summary of a download: the `--json` object, the human-readable
 * lines, and the exit code.
 *
 * @module
 */

import type { DownloadEntry, DownloadReport } from "../download.ts";
import type { Rad69Error } from "../errors.ts";
import { formatBytes } from "./progress_bar.ts";
import { escapeForTerminal } from "../terminal_escape.ts";

/** An error as it appears in the JSON summary. */
export interface SummaryError {
  /** The error class, e.g. `XDSMissingDocumentError`. */
  readonly name: string;
  /** The server's error code, when there is one. */
  readonly code?: string;
  /** The HTTP status, when there is one. */
  readonly status?: number;
  /** The message. */
  readonly message: string;
  /**
   * The message of the underlying cause (e.g. a TLS alert behind "fetch
   * failed"), when there is one.
   */
  readonly cause?: string;
}

/** One instance in the JSON summary. */
export interface SummaryInstance {
  /** Study Instance UID. */
  readonly study: string;
  /** Series Instance UID. */
  readonly series: string;
  /** SOP Instance UID. */
  readonly instance: string;
  /** What became of it. */
  readonly status: "delivered" | "skipped" | "failed";
  /** Its file (present unless it failed). */
  readonly path: string;
  /** File size, unless it failed. */
  readonly bytes?: number;
  /** `true` when it failed with an `--ignore`d error. */
  readonly ignored?: boolean;
  /** Why it failed. */
  readonly error?: SummaryError;
}

/** One attempt in the JSON summary. */
export interface SummaryAttempt {
  /** 1 for the first try of a request. */
  readonly attempt: number;
  /** Instances asked for. */
  readonly requested: number;
  /** Instances delivered. */
  readonly delivered: number;
  /** Instances failed for good. */
  readonly failed: number;
  /** Instances asked for again. */
  readonly retrying: number;
  /** Milliseconds waited before the next attempt. */
  readonly delayMs: number;
  /** The transient error that caused the retry. */
  readonly error?: SummaryError;
}

/** The `--json` summary printed on stdout. */
export interface CliSummary {
  /** The tool's version. */
  readonly version: string;
  /** The endpoint, without credentials. */
  readonly url: string;
  /** The download folder. */
  readonly out: string;
  /** `true` when the exit code is 0. */
  readonly ok: boolean;
  /** 0 or 1. */
  readonly exitCode: number;
  /** Distinct instances requested. */
  readonly requested: number;
  /** Delivered and written. */
  readonly delivered: number;
  /** Already present (`--resume`). */
  readonly skipped: number;
  /** Not delivered (ignored ones included). */
  readonly failed: number;
  /** Failed with an `--ignore`d error. */
  readonly ignored: number;
  /** Bytes written. */
  readonly totalBytes: number;
  /** Bytes of the files already present. */
  readonly skippedBytes: number;
  /** HTTP body bytes received. */
  readonly receivedBytes: number;
  /** Temporary files of interrupted runs removed. */
  readonly staleFilesRemoved: number;
  /** Wall-clock time. */
  readonly elapsedMs: number;
  /** Every attempt of every request. */
  readonly attempts: readonly SummaryAttempt[];
  /** Every instance, in request order. */
  readonly instances: readonly SummaryInstance[];
}

/** Context of a summary. */
export interface SummaryContext {
  /** The tool's version. */
  readonly version: string;
  /** The endpoint, already without credentials. */
  readonly url: string;
  /** Codes and class names given with `--ignore`. */
  readonly ignore: readonly string[];
  /** Removes secrets from any text. */
  readonly redact: (text: string) => string;
}

/**
 * Tells whether an error matches an `--ignore` value: its server error code,
 * its class name or the name of a class it extends.
 *
 * @param error The failure.
 * @param ignore The `--ignore` values.
 * @returns `true` when it is ignored.
 */
export function isIgnored(error: Error, ignore: readonly string[]): boolean {
  if (ignore.length === 0) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && ignore.includes(code)) return true;
  if (ignore.includes(error.name)) return true;
  for (
    let proto = Object.getPrototypeOf(error);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name = (proto.constructor as { name?: string } | undefined)?.name;
    if (name && ignore.includes(name)) return true;
  }
  return false;
}

/** An error as the summary shows it. */
function summaryError(
  error: Rad69Error,
  redact: (text: string) => string,
): SummaryError {
  const out: { -readonly [K in keyof SummaryError]: SummaryError[K] } = {
    name: error.name,
    message: redact(error.message),
  };
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code !== "") out.code = redact(code);
  const status = (error as { status?: unknown }).status;
  if (typeof status === "number") out.status = status;
  let cause: unknown = error.cause;
  let deepest: string | undefined;
  for (
    let depth = 0;
    cause !== undefined && cause !== null && depth < 8;
    depth++
  ) {
    const message = cause instanceof Error ? cause.message : String(cause);
    if (message !== "" && !error.message.includes(message)) deepest = message;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (deepest !== undefined) out.cause = redact(deepest);
  return out;
}

function summaryInstance(
  entry: DownloadEntry,
  context: SummaryContext,
): SummaryInstance {
  const base = {
    study: entry.ref.studyUid,
    series: entry.ref.seriesUid,
    instance: entry.ref.instanceUid,
    status: entry.status,
    path: entry.path,
  };
  if (entry.status !== "failed") return { ...base, bytes: entry.bytes };
  return {
    ...base,
    ignored: isIgnored(entry.error, context.ignore),
    error: summaryError(entry.error, context.redact),
  };
}

/**
 * Builds the JSON summary of a download. It holds no header value: error
 * texts pass through `redact`.
 *
 * @param report The download report.
 * @param context Version, URL, `--ignore` values and the redactor.
 * @returns The summary.
 */
export function buildSummary(
  report: DownloadReport,
  context: SummaryContext,
): CliSummary {
  const instances = report.entries.map((e) => summaryInstance(e, context));
  const ignored = instances.filter((i) => i.ignored).length;
  const exitCode = report.failed - ignored > 0 ? 1 : 0;
  return {
    version: context.version,
    url: context.url,
    out: report.dir,
    ok: exitCode === 0,
    exitCode,
    requested: report.entries.length,
    delivered: report.delivered,
    skipped: report.skipped,
    failed: report.failed,
    ignored,
    totalBytes: report.totalBytes,
    skippedBytes: report.skippedBytes,
    receivedBytes: report.receivedBytes,
    staleFilesRemoved: report.staleFilesRemoved,
    elapsedMs: Math.round(report.elapsedMs),
    attempts: report.attempts.map((a) => {
      const attempt: SummaryAttempt = {
        attempt: a.attempt,
        requested: a.requested,
        delivered: a.delivered,
        failed: a.failed,
        retrying: a.retrying,
        delayMs: a.delayMs,
      };
      return a.transientError
        ? { ...attempt, error: summaryError(a.transientError, context.redact) }
        : attempt;
    }),
    instances,
  };
}

/**
 * The human-readable summary: totals, then every instance not delivered with
 * its reason.
 *
 * @param summary The summary.
 * @returns The lines.
 */
export function formatSummary(summary: CliSummary): string[] {
  const seconds = summary.elapsedMs / 1000;
  const rate = seconds > 0 ? summary.receivedBytes / seconds : 0;
  const lines: string[] = [];
  if (summary.skipped === summary.requested) {
    lines.push(
      `Nothing to download: all ${summary.requested} instance(s) are already in ${summary.out} (${
        formatBytes(summary.skippedBytes)
      })`,
    );
  } else {
    lines.push(
      `Downloaded ${summary.delivered} of ${summary.requested} instance(s) (${
        formatBytes(summary.totalBytes)
      }) to ${summary.out} in ${seconds.toFixed(1)} s (${
        formatBytes(rate)
      }/s)` +
        (summary.skipped > 0
          ? `; ${summary.skipped} already present (${
            formatBytes(summary.skippedBytes)
          })`
          : ""),
    );
  }
  const retried = summary.attempts.filter((a) => a.retrying > 0).length;
  if (retried > 0) {
    lines.push(
      `${summary.attempts.length} attempt(s), ${retried} followed by a retry`,
    );
  }
  if (summary.staleFilesRemoved > 0) {
    lines.push(
      `Removed ${summary.staleFilesRemoved} temporary file(s) of an interrupted run`,
    );
  }
  const failed = summary.instances.filter((i) => i.status === "failed");
  const describe = (i: SummaryInstance) =>
    `  ${i.study}/${i.series}/${i.instance}: ${i.error?.name}${
      i.error?.code ? ` [${i.error.code}]` : ""
    }: ${i.error?.message}${i.error?.cause ? ` (${i.error.cause})` : ""}`;
  const notIgnored = failed.filter((i) => !i.ignored);
  const ignored = failed.filter((i) => i.ignored);
  if (notIgnored.length > 0) {
    lines.push(`Not delivered (${notIgnored.length}):`);
    for (const i of notIgnored) lines.push(describe(i));
  }
  if (ignored.length > 0) {
    lines.push(`Not delivered but ignored (${ignored.length}):`);
    for (const i of ignored) lines.push(describe(i));
  }
  // Server text (Fault reasons, bodies, contexts) is shown escaped.
  return lines.map(escapeForTerminal);
}
