/**
 * Turning the `rad69` command line into a run: endpoints checked, secrets
 * collected for redaction, permissions asked, headers and TLS material
 * read, the instance list read, the output folder checked, before any
 * request.
 *
 * @module
 */

import { Rad69Client, type Rad69ClientOptions } from "../client.ts";
import type { DownloadOptions, DownloadReport } from "../download.ts";
import type { Rad69Logger } from "../logger.ts";
import { assertUid, type InstanceReference } from "../references.ts";
import type { CliOptions } from "./args.ts";
import { parseTriplet, readInstanceList } from "../instance_list.ts";
import { prepareOutputFolder, resolveUserPath, userCwd } from "./paths.ts";
import { missingPermissions } from "./permissions.ts";
import type { Redactor } from "./redact.ts";
import { checkIgnoreValues } from "./ignore.ts";
import { type DownloadLayout, layoutFromTemplate } from "../layout.ts";
import type { XdsPlan } from "../xds/consumer.ts";

const encoder = new TextEncoder();

/** Query parameters whose values are secrets (never printed). */
export const SECRET_PARAM =
  /passw|pwd|secret|token|api[-_]?key|auth|session|sig|credential|ticket|^key$/i;

/** Base64 of UTF-8 text. */
export function base64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A URL's host with its port made explicit, for net permissions. */
export function hostWithPort(url: URL): string {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads a PEM file given to an option. */
export async function readPem(option: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new TypeError(
      `Cannot read ${option} file "${path}": ${messageOf(error)}`,
    );
  }
}

/** Everything a run needs, once the input is read and checked. */
export interface Prepared {
  /** Runs the download. */
  download: (options: DownloadOptions) => Promise<DownloadReport>;
  /** Releases what the run holds (HTTP clients). */
  dispose: () => void;
  /** What is downloaded, for the log ("12 instance(s) from URL"). */
  what: string;
  /** The endpoint(s), printable. */
  url: string;
  /** The download folder, resolved. */
  out: string;
  /** The `--layout` template, compiled. */
  layout?: DownloadLayout;
  /** Plans instead of downloading (`--dry-run`). */
  dryRun?: () => Promise<XdsPlan>;
}

/** The options with every path resolved against the user's folder. */
export function resolvePaths(o: CliOptions): CliOptions {
  const base = userCwd();
  const at = (path: string) => resolveUserPath(path, base);
  const resolved: { -readonly [K in keyof CliOptions]: CliOptions[K] } = {
    ...o,
  };
  resolved.out = at(o.out);
  resolved.ca = o.ca.map(at);
  if (o.cert !== undefined) resolved.cert = at(o.cert);
  if (o.key !== undefined) resolved.key = at(o.key);
  if (o.instancesFile !== undefined) {
    resolved.instancesFile = at(o.instancesFile);
  }
  return resolved;
}

/** Checks an endpoint flag's URL: http or https. */
export function endpointUrl(flag: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(
      `Invalid option ${flag} "${
        raw.replace(/\/\/[^/@]*@/, "//[REDACTED]@")
      }": not a URL`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Invalid option ${flag}: expected an http or https URL, got "${url.protocol}"`,
    );
  }
  return url;
}

/** Marks the URL's secret query values as secrets. */
export function redactQuery(url: URL, redactor: Redactor): void {
  for (const [name, value] of url.searchParams) {
    if (SECRET_PARAM.test(name)) redactor.add(value);
  }
}

/** The `--header` values, as headers (each value a secret). */
export function headersOf(o: CliOptions, redactor: Redactor): Headers {
  const headers = new Headers();
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
  return headers;
}

/** Adds the `--header-env` headers (each value a secret). */
export function addHeaderEnv(
  o: CliOptions,
  headers: Headers,
  redactor: Redactor,
): void {
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
}

/**
 * The permissions a run needs: the endpoints, the input files, the
 * `--header-env` variables and the download folder.
 */
export function wantedPermissions(
  o: CliOptions,
  urls: readonly URL[],
  files: readonly (string | undefined)[],
): Deno.PermissionDescriptor[] {
  return [
    ...o.headerEnv.map(([, variable]): Deno.PermissionDescriptor => ({
      name: "env",
      variable,
    })),
    ...[o.instancesFile, o.cert, o.key, ...o.ca, ...files].filter((p) =>
      p !== undefined
    ).map((path): Deno.PermissionDescriptor => ({ name: "read", path })),
    ...[...new Set(urls.map(hostWithPort))].map((
      host,
    ): Deno.PermissionDescriptor => ({ name: "net", host })),
    { name: "read", path: o.out },
    { name: "write", path: o.out },
  ];
}

/**
 * The client options every endpoint of a run shares, from the flags:
 * headers, TLS, transfer syntaxes, retries, timeouts, concurrency.
 */
export async function sharedClientOptions(
  o: CliOptions,
  headers: Headers,
  logger: Rad69Logger,
  https: boolean,
): Promise<Omit<Rad69ClientOptions, "url">> {
  o.transferSyntaxes.forEach((uid, i) => {
    if (uid !== "*") assertUid(uid, `--transfer-syntax ${i + 1}`);
  });
  if (o.repositoryId !== undefined) {
    assertUid(o.repositoryId, "--repository-id");
  }
  const options: Omit<Rad69ClientOptions, "url"> = {
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
    if (!https) {
      throw new TypeError(
        "Invalid options: --cert, --key and --ca need https URLs",
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
  checkIgnoreValues(o.ignore);
  return options;
}

/** Reads and checks the input; throws a `TypeError` for usage errors. */
export async function prepare(
  typed: CliOptions,
  redactor: Redactor,
  logger: Rad69Logger,
): Promise<Prepared | string[]> {
  const o = resolvePaths(typed);
  const url = endpointUrl("--url", o.url);
  const headers = headersOf(o, redactor);
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
  redactQuery(url, redactor);
  const missing = await missingPermissions(wantedPermissions(o, [url], []));
  if (missing.length > 0) return missing;
  addHeaderEnv(o, headers, redactor);

  const refs: InstanceReference[] = o.triplets.map((arg, i) =>
    parseTriplet(arg, `argument ${i + 1}`)
  );
  if (o.instancesFile !== undefined) {
    for (const ref of await readInstanceList(o.instancesFile)) refs.push(ref);
  }
  if (refs.length === 0) {
    throw new TypeError(
      "Nothing to download: give STUDY/SERIES/INSTANCE arguments or --instances FILE",
    );
  }
  const options: Rad69ClientOptions = {
    ...await sharedClientOptions(o, headers, logger, url.protocol === "https:"),
    url: url.href,
  };
  const layout = o.layout === undefined
    ? undefined
    : layoutFromTemplate(o.layout);
  await prepareOutputFolder("--out", typed.out, o.out);
  let client: Rad69Client;
  try {
    client = new Rad69Client(options);
  } catch (error) {
    throw new TypeError(redactor.redact(messageOf(error)));
  }
  const prepared: Prepared = {
    download: (options) => client.download(refs, o.out, options),
    dispose: () => client[Symbol.dispose](),
    what: `${refs.length} instance(s) from ${url.href}`,
    url: url.href,
    out: o.out,
  };
  if (layout) prepared.layout = layout;
  return prepared;
}
