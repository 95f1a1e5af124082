/**
 * The `rad69` command: parses the arguments, checks permissions, downloads
 * with {@linkcode downloadInstances}, and prints a progress bar (on a
 * terminal), a summary and, with `--json`, one JSON object on stdout.
 *
 * @module
 */

import type { DownloadOptions, DownloadReport } from "../download.ts";
import { OutDirLockedError } from "../errors.ts";
import type { Rad69Logger } from "../logger.ts";
import {
  escapeForTerminal,
  escapeJsonForTerminal,
} from "../terminal_escape.ts";
import { type CliOptions, HELP_TEXT, parseCliArgs, wantsJson } from "./args.ts";
import { permissionHint } from "./permissions.ts";
import { ProgressBar } from "./progress_bar.ts";
import { Redactor } from "./redact.ts";
import { buildSummary, describeBatch, formatSummary } from "./summary.ts";
import { messageOf, prepare, type Prepared } from "./prepare.ts";
import {
  describePlan,
  isInputError,
  planJson,
  prepareXds,
} from "./prepare_xds.ts";

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

/** What every exit path of a run needs. */
interface RunContext {
  version: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  redact: (text: string) => string;
  json: boolean;
}

/**
 * Ends a run that did not reach a summary: the message on stderr (with the
 * pointer to `--help` for usage errors) and, with `--json`, a JSON object
 * on stdout (`ok: false`, the exit code, the error).
 */
function endEarly(
  context: RunContext,
  exitCode: number,
  error: { name: string; message: string },
  options: { usageHint?: boolean } = {},
): number {
  const message = context.redact(error.message);
  context.stderr(
    `rad69: ${escapeForTerminal(message)}\n${
      options.usageHint ? 'Run "rad69 --help" for usage.\n' : ""
    }`,
  );
  if (context.json) {
    const object = {
      version: context.version,
      ok: false,
      exitCode,
      error: { name: error.name, message },
    };
    context.stdout(
      `${escapeJsonForTerminal(JSON.stringify(object, null, 2))}\n`,
    );
  }
  return exitCode;
}

/** The error of a usage problem, as reported. */
function usageError(error: unknown): { name: string; message: string } {
  const name = error instanceof Error && error.name !== "TypeError"
    ? error.name
    : "UsageError";
  return { name, message: messageOf(error) };
}

/**
 * Runs the `rad69` command.
 *
 * @param args The arguments (without the program name).
 * @param options The version, output streams and signal handling.
 * @returns The exit status: 0 all delivered (or skipped, or ignored), 1 some
 * not delivered, 2 usage or input error (nothing requested), 130
 * interrupted. With `--json`, every exit prints one JSON object on stdout.
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
  const redactor = new Redactor();
  const context: RunContext = {
    version: options.version,
    stdout: options.stdout ?? writerOf(Deno.stdout),
    stderr: options.stderr ?? writerOf(Deno.stderr),
    redact: (text: string) => redactor.redact(text),
    json: wantsJson(args),
  };
  const { stdout, stderr } = context;

  let o: CliOptions;
  try {
    const parsed = parseCliArgs(args);
    if (parsed.kind !== "run") {
      const text = parsed.kind === "help"
        ? HELP_TEXT
        : `rad69 (@rad69/client) ${options.version}\n`;
      stdout(
        context.json
          ? `${
            JSON.stringify({
              version: options.version,
              ok: true,
              exitCode: EXIT_OK,
              ...(parsed.kind === "help" ? { help: HELP_TEXT } : {}),
            })
          }\n`
          : text,
      );
      return EXIT_OK;
    }
    o = parsed.options;
  } catch (error) {
    return endEarly(context, EXIT_USAGE, usageError(error), {
      usageHint: true,
    });
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
  const logger = cliLogger(o.logLevel, stderr, context.redact, bar);

  let prepared: Prepared | string[];
  try {
    prepared = o.xds
      ? await prepareXds(o, o.xds, redactor, logger)
      : await prepare(o, redactor, logger);
  } catch (error) {
    const hint = permissionHint(error);
    if (hint) {
      return endEarly(context, EXIT_USAGE, {
        name: "PermissionError",
        message: hint,
      });
    }
    return endEarly(context, EXIT_USAGE, usageError(error), {
      usageHint: true,
    });
  }
  if (Array.isArray(prepared)) {
    return endEarly(context, EXIT_USAGE, {
      name: "PermissionError",
      message: prepared.join("\nrad69: "),
    });
  }
  return await runDownload(prepared, o, context, { ...options, bar, logger });
}

/** Downloads, then prints the summary; returns the exit status. */
async function runDownload(
  prepared: Prepared,
  o: CliOptions,
  context: RunContext,
  options: RunCliOptions & {
    bar: ProgressBar | undefined;
    logger: Rad69Logger;
  },
): Promise<number> {
  const { out } = prepared;
  const { stdout, stderr, redact } = context;
  const { bar, logger } = options;
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

  if (prepared.dryRun) return await printPlan(prepared, o, context);
  logger.info?.(`Downloading ${prepared.what} to ${out}`);
  const downloadOptions: DownloadOptions = {
    resume: o.resume,
    fsync: o.fsync,
    signal,
    onAttempt: (a) =>
      logger.debug?.(
        `Attempt ${a.attempt}${
          describeBatch(a)
        }: ${a.requested} requested, ${a.delivered} delivered, ${a.failed} failed, ${a.retrying} to retry`,
      ),
  };
  if (prepared.layout) downloadOptions.layout = prepared.layout;
  if (bar) downloadOptions.onProgress = (p) => bar.update(p);
  let report: DownloadReport;
  try {
    report = await prepared.download(downloadOptions);
  } catch (error) {
    bar?.clear();
    if (signal.aborted) {
      return endEarly(context, EXIT_INTERRUPTED, {
        name: "Interrupted",
        message:
          "interrupted; no temporary file was left behind. Run again with --resume to continue.",
      });
    }
    const hint = permissionHint(error);
    if (isInputError(error) || error instanceof OutDirLockedError) {
      return endEarly(context, EXIT_USAGE, usageError(error));
    }
    return endEarly(context, EXIT_INCOMPLETE, {
      name: hint ? "PermissionError" : usageError(error).name,
      message: hint ?? `Download failed: ${messageOf(error)}`,
    });
  } finally {
    if (options.handleSignals) {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    }
    prepared.dispose();
  }
  bar?.finish();

  const summary = buildSummary(report, {
    version: context.version,
    url: redact(prepared.url),
    ignore: o.ignore,
    redact,
  });
  const hints = new Set<string>();
  for (const entry of report.entries) {
    if (entry.status !== "failed") continue;
    const hint = permissionHint(entry.error);
    if (hint) hints.add(hint);
  }
  for (const hint of hints) {
    stderr(`rad69: ${escapeForTerminal(redact(hint))}\n`);
  }
  if (o.json) {
    stdout(`${escapeJsonForTerminal(JSON.stringify(summary, null, 2))}\n`);
  } else {
    for (const line of formatSummary(summary)) stderr(`${line}\n`);
  }
  return summary.exitCode;
}

/** `--dry-run`: prints the plan (or its JSON); requests no image. */
async function printPlan(
  prepared: Prepared,
  o: CliOptions,
  context: RunContext,
): Promise<number> {
  try {
    const plan = await prepared.dryRun!();
    if (o.json) {
      const object = {
        version: context.version,
        ok: true,
        exitCode: EXIT_OK,
        dryRun: true,
        plan: planJson(plan, context.redact),
      };
      context.stdout(
        `${
          escapeJsonForTerminal(context.redact(JSON.stringify(object, null, 2)))
        }\n`,
      );
    } else {
      for (const line of describePlan(plan)) {
        context.stderr(`${escapeForTerminal(context.redact(line))}\n`);
      }
    }
    return EXIT_OK;
  } catch (error) {
    return endEarly(
      context,
      isInputError(error) ? EXIT_USAGE : EXIT_INCOMPLETE,
      usageError(error),
    );
  } finally {
    prepared.dispose();
  }
}
