/**
 * The CLI's summary of a download: the `--json` object, the human-readable
 * lines, and the exit code.
 *
 * @module
 */

import type { DownloadEntry, DownloadReport } from "../download.ts";
import type { ManifestEntry, XdsDownloadReport } from "../xds/consumer.ts";
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
  /** The community it was asked for in, when it has one. */
  readonly community?: string;
}

/** One KOS manifest in the JSON summary (XDS-I.b runs). */
export interface SummaryManifest {
  /** `given`, `fetched`, `present` or `failed`. */
  readonly status: string;
  /** Its uniqueId (SOP Instance UID), when known. */
  readonly documentUniqueId?: string;
  /** The repository it came from. */
  readonly repositoryUniqueId?: string;
  /** Its community. */
  readonly community?: string;
  /** The file it was read from or saved to. */
  readonly path?: string;
  /** Instances it lists. */
  readonly instances: number;
  /** Why it failed. */
  readonly error?: SummaryError;
}

/** One imaging document source in the JSON summary (XDS-I.b runs). */
export interface SummarySource {
  /** Its RepositoryUniqueId. */
  readonly repositoryUniqueId: string;
  /** Its community. */
  readonly community?: string;
  /** Its endpoint, without credentials. */
  readonly url: string;
  /** Instances asked from it. */
  readonly instances: number;
  /** Delivered. */
  readonly delivered: number;
  /** Already present. */
  readonly skipped: number;
  /** Not delivered. */
  readonly failed: number;
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
  /** The Study Instance UID of the request, when its instances share one. */
  readonly study?: string;
  /** The Series Instance UID of the request, when its instances share one. */
  readonly series?: string;
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
  /** Every KOS manifest (XDS-I.b runs). */
  readonly manifests?: readonly SummaryManifest[];
  /** Every imaging document source (XDS-I.b runs). */
  readonly sources?: readonly SummarySource[];
  /** What the registry said besides the entries (patient runs). */
  readonly registry?: SummaryRegistry;
}

/** The registry's status and errors in the JSON summary. */
export interface SummaryRegistry {
  /** `Success` or `PartialSuccess`. */
  readonly status: string;
  /** The RegistryErrors and warnings it sent with the entries. */
  readonly errors: readonly {
    readonly code: string;
    readonly context: string;
    readonly location: string;
    readonly warning: boolean;
  }[];
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
  // A SOAP Fault code matches with or without its prefix ("env:Receiver").
  if (
    typeof code === "string" && !code.startsWith("urn:") &&
    ignore.includes(code.replace(/^[^:]+:/, ""))
  ) {
    return true;
  }
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
  const community = entry.ref.homeCommunityId;
  return {
    ...base,
    ignored: isIgnored(entry.error, context.ignore),
    error: summaryError(entry.error, context.redact),
    ...(community !== undefined ? { community } : {}),
  };
}

/**
 * One manifest as the summary (and the `--dry-run` plan) shows it.
 *
 * @param m The manifest's entry.
 * @param redact Removes secrets from text.
 * @returns Its JSON form.
 */
export function summaryManifest(
  m: ManifestEntry,
  redact: (text: string) => string,
): SummaryManifest {
  return {
    status: m.status,
    ...(m.documentUniqueId ? { documentUniqueId: m.documentUniqueId } : {}),
    ...(m.repositoryUniqueId
      ? { repositoryUniqueId: m.repositoryUniqueId }
      : {}),
    ...(m.homeCommunityId ? { community: m.homeCommunityId } : {}),
    ...(m.path ? { path: m.path } : {}),
    instances: m.instances,
    ...(m.error ? { error: summaryError(m.error, redact) } : {}),
  };
}

/** The manifests and sources of an XDS-I.b report, for the summary. */
function xdsParts(
  report: DownloadReport | XdsDownloadReport,
  redact: (text: string) => string,
): {
  manifests?: SummaryManifest[];
  sources?: SummarySource[];
  registry?: SummaryRegistry;
} {
  if (!("manifests" in report)) return {};
  const registry = report.registry;
  return {
    ...(registry
      ? {
        registry: {
          status: registry.status,
          errors: registry.errors.map((e) => ({
            code: redact(e.code),
            context: redact(e.context),
            location: redact(e.location),
            warning: e.isWarning,
          })),
        },
      }
      : {}),
    manifests: report.manifests.map((m) => summaryManifest(m, redact)),
    sources: report.sources.map((src) => ({
      repositoryUniqueId: src.repositoryUniqueId,
      ...(src.homeCommunityId ? { community: src.homeCommunityId } : {}),
      url: redact(src.url),
      instances: src.instances,
      delivered: src.delivered,
      skipped: src.skipped,
      failed: src.failed,
    })),
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
  report: DownloadReport | XdsDownloadReport,
  context: SummaryContext,
): CliSummary {
  const instances = report.entries.map((e) => summaryInstance(e, context));
  const ignored = instances.filter((i) => i.ignored).length;
  const xds = xdsParts(report, context.redact);
  const manifestsFailed = xds.manifests !== undefined &&
    (xds.manifests.length === 0 ||
      xds.manifests.some((m) => m.status === "failed") ||
      (xds.registry?.errors.some((e) => !e.warning) ?? false));
  const exitCode = report.failed - ignored > 0 || manifestsFailed ? 1 : 0;
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
        ...(a.studyUid !== undefined ? { study: a.studyUid } : {}),
        ...(a.seriesUid !== undefined ? { series: a.seriesUid } : {}),
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
    ...xds,
  };
}

/**
 * Which request an attempt was for, e.g. ` of series 1.2.3` (the series
 * names its study in the JSON summary), ` of study 1.2 (several series)` or
 * ` of a batch of 12 instance(s)`.
 *
 * @param attempt An attempt's study and series, and how many it asked for.
 * @returns The words, with a leading space.
 */
export function describeBatch(
  attempt: {
    readonly studyUid?: string | undefined;
    readonly seriesUid?: string | undefined;
    readonly requested: number;
  },
): string {
  if (attempt.seriesUid !== undefined) {
    return ` of series ${attempt.seriesUid}`;
  }
  if (attempt.studyUid !== undefined) {
    return ` of study ${attempt.studyUid} (several series)`;
  }
  return ` of a batch of ${attempt.requested} instance(s) across studies`;
}

/** One failed instance, as a line: its reason, each code said once. */
function describeFailure(i: SummaryInstance): string {
  const error = i.error;
  if (!error) return `  ${i.study}/${i.series}/${i.instance}: failed`;
  const code = error.code &&
      !error.name.startsWith(error.code) &&
      !error.message.includes(error.code)
    ? ` [${error.code}]`
    : "";
  const cause = error.cause && !error.message.includes(error.cause)
    ? ` (${error.cause})`
    : "";
  const community = i.community && !error.message.includes(i.community)
    ? ` (community ${i.community})`
    : "";
  return `  ${i.study}/${i.series}/${i.instance}${community}: ${error.name}${code}: ${error.message}${cause}`;
}

/** The line of an attempt that was followed by a retry. */
function describeAttempt(a: SummaryAttempt): string {
  const reason = a.error
    ? `: ${a.error.name}${
      a.error.status !== undefined &&
        !a.error.message.includes(String(a.error.status))
        ? ` ${a.error.status}`
        : ""
    }: ${a.error.message}`
    : "";
  return `  attempt ${a.attempt}${
    describeBatch({ studyUid: a.study, seriesUid: a.series, ...a })
  }: ${a.delivered} of ${a.requested} delivered, ${a.retrying} retried after ${a.delayMs} ms${reason}`;
}

/**
 * The human-readable summary: totals, then every retried attempt and every
 * instance not delivered with its reason.
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
    const speed = summary.totalBytes > 0 && rate > 0
      ? ` (${formatBytes(rate)}/s)`
      : "";
    lines.push(
      `Downloaded ${summary.delivered} of ${summary.requested} instance(s) (${
        formatBytes(summary.totalBytes)
      }) to ${summary.out} in ${seconds.toFixed(1)} s${speed}` +
        (summary.skipped > 0
          ? `; ${summary.skipped} already present (${
            formatBytes(summary.skippedBytes)
          })`
          : ""),
    );
  }
  const retried = summary.attempts.filter((a) => a.retrying > 0);
  if (retried.length > 0) {
    lines.push(
      `${summary.attempts.length} attempt(s), ${retried.length} followed by a retry:`,
    );
    for (const a of retried) lines.push(describeAttempt(a));
  }
  if (summary.staleFilesRemoved > 0) {
    lines.push(
      `Removed ${summary.staleFilesRemoved} temporary file(s) of an interrupted run`,
    );
  }
  for (const line of describeManifests(summary)) lines.push(line);
  const failed = summary.instances.filter((i) => i.status === "failed");
  const notIgnored = failed.filter((i) => !i.ignored);
  const ignored = failed.filter((i) => i.ignored);
  if (notIgnored.length > 0) {
    lines.push(`Not delivered (${notIgnored.length}):`);
    for (const i of notIgnored) lines.push(describeFailure(i));
  }
  if (ignored.length > 0) {
    lines.push(`Not delivered but ignored (${ignored.length}):`);
    for (const i of ignored) lines.push(describeFailure(i));
  }
  // Server text (Fault reasons, bodies, contexts) is shown escaped.
  return lines.map(escapeForTerminal);
}

/** The lines about manifests and sources of an XDS-I.b run. */
function describeManifests(summary: CliSummary): string[] {
  const manifests = summary.manifests;
  if (manifests === undefined) return [];
  const registry: string[] = (summary.registry?.errors ?? []).map((e) =>
    `Registry answered ${summary.registry!.status} with ${
      e.warning ? "warning" : "error"
    } ${e.code}${e.context ? `: ${e.context}` : ""}${
      e.warning ? "" : " (some manifests may be missing)"
    }`
  );
  return [...registry, ...describeManifestLines(summary, manifests)];
}

/** The manifest and source lines of {@linkcode describeManifests}. */
function describeManifestLines(
  summary: CliSummary,
  manifests: readonly SummaryManifest[],
): string[] {
  if (manifests.length === 0) {
    return ["No KOS manifest found: nothing to download"];
  }
  const lines: string[] = [];
  const failed = manifests.filter((m) => m.status === "failed");
  lines.push(
    `${manifests.length} manifest(s) (${
      manifests.length - failed.length
    } read), ${summary.sources?.length ?? 0} source(s):`,
  );
  for (const src of summary.sources ?? []) {
    lines.push(
      `  source ${src.repositoryUniqueId || "(default)"}${
        src.community ? ` of ${src.community}` : ""
      } at ${src.url}: ${src.delivered} of ${src.instances} delivered${
        src.skipped ? `, ${src.skipped} present` : ""
      }${src.failed ? `, ${src.failed} failed` : ""}`,
    );
  }
  if (failed.length > 0) {
    lines.push(`Manifests not read (${failed.length}):`);
    for (const m of failed) {
      lines.push(
        `  ${m.documentUniqueId ?? m.path ?? "?"}${
          m.community ? ` (community ${m.community})` : ""
        }: ${m.error?.name ?? "Error"}: ${m.error?.message ?? "failed"}`,
      );
    }
  }
  return lines;
}
