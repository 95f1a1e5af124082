/**
 * The `rad69` command: parses the arguments, checks permissions, downloads
 * with {@linkcode downloadInstances}, and prints a progress bar (on a
 * terminal), a summary and, with `--json`, one JSON object on stdout.
 *
 * @module
 */

import { Rad69Client, type Rad69ClientOptions } from "../client.ts";
import type { DownloadOptions, DownloadReport } from "../download.ts";
import { OutDirLockedError } from "../errors.ts";
import type { Rad69Logger } from "../logger.ts";
import {
  escapeForTerminal,
  escapeJsonForTerminal,
} from "../terminal_escape.ts";
import { assertUid, type InstanceReference } from "../references.ts";
import { type CliOptions, HELP_TEXT, parseCliArgs } from "./args.ts";
import { parseTriplet, readInstanceList } from "./instance_list.ts";
import { missingPermissions, permissionHint } from "./permissions.ts";
import { ProgressBar } from "./progress_bar.ts";
import { Redactor } from "./redact.ts";
import { buildSummary, formatSummary } from "./summary.ts";

/** Exit status: every instance delivered, skipped or ignored. */
export const EXIT_OK = 0;
/** Exit status: some instances were not delivered. */
export const EXIT_INCOMPLETE = 1;
/** Exit status: usage or input error; nothing was requested. */
export const EXIT_USAGE = 2;
/** Exit status: interrupted (SIGINT/SIGTERM or the signal). */
export const EXIT_INTERRUPTED = 130;

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** The version printed by `--version` and in the JSON summary. */
  version: string;
  /**
   * Writes to standard output.
   *
   * @default {Deno.stdout}
   */
  stdout?: (text: string) => void;
  /**
   * Writes to standard error.
   *
   * @default {Deno.stderr}
   */
  stderr?: (text: string) => void;
  /**
   * Whether stderr is a terminal (progress bar).
   *
   * @default {Deno.stderr.isTerminal()}
   */
  stderrIsTerminal?: boolean;
  /**
   * The terminal width.
   *
   * @default {Deno.consoleSize().columns, else 80}
   */
  columns?: () => number;
  /** Stops the download (exit status 130). */
  signal?: AbortSignal;
  /**
   * Stop on SIGINT/SIGTERM (temporary files are removed, exit status 130).
   *
   * @default {false}
   */
  handleSignals?: boolean;
}

const encoder = new TextEncoder();
/** Query parameters whose values are secrets (never printed). */
const SECRET_PARAM =
  /passw|pwd|secret|token|api[-_]?key|auth|session|sig|credential|ticket|^key$/i;

/** A writer of text to a Deno stream, whole. */
function writerOf(
  stream: { writeSync(p: Uint8Array): number },
): (text: string) => void {
  return (text: string) => {
    const bytes = encoder.encode(text);
    let at = 0;
    while (at < bytes.length) at += stream.writeSync(bytes.subarray(at));
  };
}

/** Base64 of UTF-8 text. */
function base64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A URL's host with its port made explicit, for net permissions. */
function hostWithPort(url: URL): string {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

/** The message of anything thrown. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads a PEM file given to an option. */
async function readPem(option: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new TypeError(
      `Cannot read ${option} file "${path}": ${messageOf(error)}`,
    );
  }
}

/** A logger to stderr at a level, redacted, that clears the progress bar. */
function cliLogger(
  level: CliOptions["logLevel"],
  write: (text: string) => void,
  redact: (text: string) => string,
  bar: ProgressBar | undefined,
): Rad69Logger {
  const line = (message: string) => {
    bar?.clear();
    write(`rad69: ${escapeForTerminal(redact(message))}\n`);
  };
  const logger: Rad69Logger = {};
  if (level === "silent") return logger;
  logger.warn = line;
  if (level === "info" || level === "debug") logger.info = line;
  if (level === "debug") logger.debug = line;
  return logger;
}

/** Everything a run needs, once the input is read and checked. */
interface Prepared {
  client: Rad69Client;
  refs: InstanceReference[];
  url: URL;
}

/** Reads and checks the input; throws a `TypeError` for usage errors. */
async function prepare(
  o: CliOptions,
  redactor: Redactor,
  logger: Rad69Logger,
): Promise<Prepared | string[]> {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new TypeError(
      `Invalid option --url "${
        o.url.replace(/\/\/[^/@]*@/, "//[REDACTED]@")
      }": not a URL`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Invalid option --url: expected an http or https URL, got "${url.protocol}"`,
    );
  }
  const headers = new Headers();
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    if (password) redactor.add(password);
    if (url.password) redactor.add(url.password);
    const credentials = base64(`${user}:${password}`);
    redactor.add(credentials);
    headers.set("authorization", `Basic ${credentials}`);
    url.username = "";
    url.password = "";
  }
  for (const [name, value] of url.searchParams) {
    if (SECRET_PARAM.test(name)) redactor.add(value);
  }
  for (const [name, value] of o.headers) {
    redactor.add(value);
    try {
      headers.append(name, value);
    } catch {
      throw new TypeError(
        `Invalid option --header: the value of "${name}" is not a valid header value`,
      );
    }
  }

  const wanted: Deno.PermissionDescriptor[] = [
    ...o.headerEnv.map(([, variable]): Deno.PermissionDescriptor => ({
      name: "env",
      variable,
    })),
    ...[o.instancesFile, o.cert, o.key, ...o.ca].filter((p) => p !== undefined)
      .map((path): Deno.PermissionDescriptor => ({ name: "read", path })),
    { name: "net", host: hostWithPort(url) },
    { name: "read", path: o.out },
    { name: "write", path: o.out },
  ];
  const missing = await missingPermissions(wanted);
  if (missing.length > 0) return missing;

  for (const [name, variable] of o.headerEnv) {
    const value = Deno.env.get(variable);
    if (value === undefined || value === "") {
      throw new TypeError(
        `Environment variable "${variable}" (for header "${name}" of --header-env) is not set`,
      );
    }
    redactor.add(value);
    try {
      headers.set(name, value);
    } catch {
      throw new TypeError(
        `Environment variable "${variable}" does not hold a valid value for header "${name}"`,
      );
    }
  }

  const refs: InstanceReference[] = o.triplets.map((arg, i) =>
    parseTriplet(arg, `argument ${i + 1}`)
  );
  if (o.instancesFile !== undefined) {
    // One by one: a spread of a long list overflows the call stack.
    for (const ref of await readInstanceList(o.instancesFile)) refs.push(ref);
  }
  if (refs.length === 0) {
    throw new TypeError(
      "Nothing to download: give STUDY/SERIES/INSTANCE arguments or --instances FILE",
    );
  }
  o.transferSyntaxes.forEach((uid, i) =>
    assertUid(uid, `--transfer-syntax ${i + 1}`)
  );
  if (o.repositoryId !== undefined) {
    assertUid(o.repositoryId, "--repository-id");
  }

  const options: Rad69ClientOptions & { concurrency?: number } = {
    url: url.href,
    headers,
    logger,
    requestPerSeries: o.splitSeries,
    mtom: o.mtom,
    addressingMustUnderstand: o.mustUnderstand,
    errorsToIgnore: o.ignore,
  };
  if (o.transferSyntaxes.length > 0) {
    options.transferSyntaxes = o.transferSyntaxes;
  }
  if (o.repositoryId !== undefined) options.repositoryUniqueId = o.repositoryId;
  if (o.retries !== undefined) options.retries = o.retries;
  if (o.timeoutSeconds !== undefined) {
    options.timeoutMs = Math.round(o.timeoutSeconds * 1000);
    options.idleTimeoutMs = options.timeoutMs;
  }
  if (o.concurrency !== undefined) options.concurrency = o.concurrency;
  if (o.cert !== undefined || o.ca.length > 0) {
    if (url.protocol !== "https:") {
      throw new TypeError(
        "Invalid options: --cert, --key and --ca need an https URL",
      );
    }
    const tls: { cert?: string; key?: string; caCerts?: string[] } = {};
    if (o.cert !== undefined && o.key !== undefined) {
      tls.cert = await readPem("--cert", o.cert);
      tls.key = await readPem("--key", o.key);
    }
    if (o.ca.length > 0) {
      tls.caCerts = [];
      for (const path of o.ca) tls.caCerts.push(await readPem("--ca", path));
    }
    options.tls = tls;
  }
  let client: Rad69Client;
  try {
    client = new Rad69Client(options);
  } catch (error) {
    throw new TypeError(redactor.redact(messageOf(error)));
  }
  return { client, refs, url };
}

/**
 * Runs the `rad69` command.
 *
 * @param args The arguments (without the program name).
 * @param options The version, output streams and signal handling.
 * @returns The exit status: 0 all delivered (or skipped, or ignored), 1 some
 * not delivered, 2 usage or input error (nothing requested), 130
 * interrupted.
 *
 * @example Capture the output of a run
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCli } from "./main.ts";
 *
 * const out: string[] = [];
 * const status = await runCli(["--version"], {
 *   version: "1.0.0",
 *   stdout: (text) => out.push(text),
 * });
 * assert.equal(status, 0);
 * assert.deepEqual(out, ["rad69 (@rad69/client) 1.0.0\n"]);
 * ```
 */
export async function runCli(
  args: readonly string[],
  options: RunCliOptions,
): Promise<number> {
  const stdout = options.stdout ?? writerOf(Deno.stdout);
  const stderr = options.stderr ?? writerOf(Deno.stderr);
  const redactor = new Redactor();
  const redact = (text: string) => redactor.redact(text);
  const usage = (message: string) => {
    stderr(
      `rad69: ${
        escapeForTerminal(redact(message))
      }\nRun "rad69 --help" for usage.\n`,
    );
    return EXIT_USAGE;
  };

  let o: CliOptions;
  try {
    const parsed = parseCliArgs(args);
    if (parsed.kind === "help") {
      stdout(HELP_TEXT);
      return EXIT_OK;
    }
    if (parsed.kind === "version") {
      stdout(`rad69 (@rad69/client) ${options.version}\n`);
      return EXIT_OK;
    }
    o = parsed.options;
  } catch (error) {
    return usage(messageOf(error));
  }

  const terminal = options.stderrIsTerminal ?? Deno.stderr.isTerminal();
  const columns = options.columns ?? (() => {
    try {
      const width = Deno.consoleSize().columns;
      return width > 0 ? width : 80;
    } catch {
      return 80;
    }
  });
  const bar = terminal && !o.noProgress
    ? new ProgressBar({ write: stderr, columns })
    : undefined;
  const logger = cliLogger(o.logLevel, stderr, redact, bar);

  let prepared: Prepared | string[];
  try {
    prepared = await prepare(o, redactor, logger);
  } catch (error) {
    const hint = permissionHint(error);
    if (hint) {
      stderr(`rad69: ${redact(hint)}\n`);
      return EXIT_USAGE;
    }
    return usage(messageOf(error));
  }
  if (Array.isArray(prepared)) {
    for (const hint of prepared) stderr(`rad69: ${hint}\n`);
    return EXIT_USAGE;
  }
  const { client, refs, url } = prepared;

  const controller = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, controller.signal])
    : controller.signal;
  const onSignal = () =>
    controller.abort(new DOMException("Interrupted", "AbortError"));
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  if (options.handleSignals) {
    for (const s of signals) Deno.addSignalListener(s, onSignal);
  }

  logger.info?.(
    `Downloading ${refs.length} instance(s) from ${url.href} to ${o.out}`,
  );
  const downloadOptions: DownloadOptions = {
    resume: o.resume,
    fsync: o.fsync,
    signal,
    onAttempt: (a) =>
      logger.debug?.(
        `Attempt ${a.attempt}: ${a.requested} requested, ${a.delivered} delivered, ${a.failed} failed, ${a.retrying} to retry`,
      ),
  };
  if (bar) downloadOptions.onProgress = (p) => bar.update(p);
  let report: DownloadReport;
  try {
    report = await client.download(refs, o.out, downloadOptions);
  } catch (error) {
    bar?.clear();
    if (signal.aborted) {
      stderr(
        "rad69: interrupted; no temporary file was left behind. Run again with --resume to continue.\n",
      );
      return EXIT_INTERRUPTED;
    }
    if (error instanceof OutDirLockedError) {
      stderr(`rad69: ${escapeForTerminal(redact(error.message))}\n`);
      return EXIT_USAGE;
    }
    const hint = permissionHint(error);
    stderr(
      `rad69: ${
        escapeForTerminal(
          redact(hint ?? `Download failed: ${messageOf(error)}`),
        )
      }\n`,
    );
    return EXIT_INCOMPLETE;
  } finally {
    if (options.handleSignals) {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    }
    client[Symbol.dispose]();
  }
  bar?.finish();

  const summary = buildSummary(report, {
    version: options.version,
    url: redact(url.href),
    ignore: o.ignore,
    redact,
  });
  const hints = new Set<string>();
  for (const entry of report.entries) {
    if (entry.status !== "failed") continue;
    const hint = permissionHint(entry.error);
    if (hint) hints.add(hint);
  }
  for (const hint of hints) stderr(`rad69: ${redact(hint)}\n`);
  if (o.json) {
    stdout(`${escapeJsonForTerminal(JSON.stringify(summary, null, 2))}\n`);
  } else {
    for (const line of formatSummary(summary)) stderr(`${line}\n`);
  }
  return summary.exitCode;
}
