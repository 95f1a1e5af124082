/**
 * Command-line parsing of the `rad69` CLI: its flag table and options.
 *
 * @module
 */

import { type CliFlag, tokenizeArgs } from "./flags.ts";

/** How much the CLI logs to stderr. */
export type CliLogLevel = "debug" | "info" | "warn" | "silent";

/** The options of one CLI run, as parsed from its arguments. */
export interface CliOptions {
  /** The RAD-69 endpoint. */
  readonly url: string;
  /**
   * The download folder.
   *
   * @default {"."}
   */
  readonly out: string;
  /**
   * A file layout template (`--layout`), e.g.
   * `{PatientID}/{StudyInstanceUID}/{SOPInstanceUID}.dcm`, when given.
   */
  readonly layout?: string;
  /** Concurrent requests, when given. */
  readonly concurrency?: number;
  /**
   * One request per series.
   *
   * @default {true}
   */
  readonly splitSeries: boolean;
  /** Error codes or class names whose failures do not fail the run. */
  readonly ignore: readonly string[];
  /** Transfer syntaxes to ask for (none: the client's default list). */
  readonly transferSyntaxes: readonly string[];
  /** `--header "K: V"` values, as name/value pairs. */
  readonly headers: readonly (readonly [string, string])[];
  /** `--header-env "K=ENV_VAR"` values, as header name/variable pairs. */
  readonly headerEnv: readonly (readonly [string, string])[];
  /** Client certificate file (PEM), for mutual TLS. */
  readonly cert?: string;
  /** Client private key file (PEM), for mutual TLS. */
  readonly key?: string;
  /** Extra CA certificate files (PEM). */
  readonly ca: readonly string[];
  /** Retries of transient failures, when given. */
  readonly retries?: number;
  /** Timeout in seconds (headers and idle body), when given. */
  readonly timeoutSeconds?: number;
  /** Skip instances whose complete file is present. */
  readonly resume: boolean;
  /** Print one JSON summary on stdout. */
  readonly json: boolean;
  /** A file listing instances (CSV or JSON). */
  readonly instancesFile?: string;
  /** Positional `STUDY/SERIES/INSTANCE` arguments. */
  readonly triplets: readonly string[];
  /**
   * How much to log.
   *
   * @default {"warn"}
   */
  readonly logLevel: CliLogLevel;
  /** Send MTOM-packaged requests. */
  readonly mtom: boolean;
  /**
   * Mark the WS-Addressing headers `mustUnderstand` (`false` with
   * `--no-must-understand`).
   */
  readonly mustUnderstand: boolean;
  /** The RepositoryUniqueId to send, when given. */
  readonly repositoryId?: string;
  /** Flush files to stable storage. */
  readonly fsync: boolean;
  /** Show no progress bar, even on a terminal. */
  readonly noProgress: boolean;
  /** The XDS-I.b options (`--kos`, `--registry`, ...), when any is given. */
  readonly xds?: CliXdsOptions;
}

/** The XDS-I.b options of a run. */
export interface CliXdsOptions {
  /** KOS manifest files (`--kos`). */
  readonly kos: readonly string[];
  /** Imaging document sources (`--source UID=URL`). */
  readonly sources: readonly (readonly [string, string])[];
  /** The registry (`--registry`). */
  readonly registry?: string;
  /** The patient, in CX form (`--patient`). */
  readonly patient?: string;
  /** Repositories (`--repository UID=URL`), or `""` = every repository. */
  readonly repositories: readonly (readonly [string, string])[];
  /** Service start from (`--since`), as a DTM. */
  readonly since?: string;
  /** Service start until (`--until`), as a DTM. */
  readonly until?: string;
  /** The community (`--home-community-id`). */
  readonly homeCommunityId?: string;
  /** The initiating gateway (`--gateway`). */
  readonly gateway?: string;
  /** A file holding the `wsse:Security` header (`--saml-assertion`). */
  readonly samlAssertion?: string;
  /** Print the plan, request no image (`--dry-run`). */
  readonly dryRun: boolean;
}

/** What the arguments ask for. */
export type ParsedCli =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "run"; readonly options: CliOptions };

/** The `--help` text. */
export const HELP_TEXT: string = `\
rad69: download DICOM instances over IHE RAD-69 (Retrieve Imaging Document Set)

Usage:
  rad69 --url URL [options] [--instances FILE] [STUDY/SERIES/INSTANCE ...]
  rad69 --kos FILE [--kos FILE ...] (--url URL | --source UID=URL ...) [options]
  rad69 --registry URL --patient CX --repository [UID=]URL
        (--url URL | --source UID=URL ...) [--since DATE] [--until DATE] [options]
  rad69 --gateway URL --home-community-id URN --patient CX [options]
  rad69 --help | --version

Files land at OUT/<study>/<series>/<instance>.dcm (or where --layout says),
written to a temporary name and renamed when complete: never half-written.
Relative paths are those of the folder you run the command from.

What to download (at least one instance):
  STUDY/SERIES/INSTANCE      a triplet of UIDs (repeatable)
  -i, --instances FILE       CSV lines "study,series,instance" (an optional
                             header line, blank lines and # comments allowed)
                             or a JSON array of {"study","series","instance"}

XDS-I.b (instances listed by KOS manifests; see docs/xds.md):
  --kos FILE                 a KOS manifest (repeatable): download what it lists
  --source UID=URL           the RAD-69 endpoint of the imaging document source
                             whose Retrieve Location UID is UID (repeatable);
                             --url serves every source not given
  --registry URL             the XDS registry (ITI-18): find the KOS manifests
                             of --patient
  --patient CX               the patient, e.g. "PID123^^^&1.2.3.4&ISO"
  --repository [UID=]URL     the XDS repository (ITI-43) holding the manifests
                             (repeatable per repositoryUniqueId; a bare URL
                             serves every repository)
  --since DATE, --until DATE only studies whose service started in this range
                             (YYYY-MM-DD or YYYYMMDD[hhmmss])
  --gateway URL              an initiating gateway: query (ITI-38), manifests
                             (ITI-39) and images (RAD-75) all at this URL
  --home-community-id URN    the community asked through the gateway (e.g.
                             urn:oid:1.2.3); manifests found keep their own
  --saml-assertion FILE      a file holding a <wsse:Security> header (XUA SAML
                             assertion), re-read for every request and sent
                             byte for byte
  --dry-run                  print the plan (manifests, studies, series,
                             instances per source) and request no image
  Manifests fetched are kept in OUT/manifests/<uniqueId>.dcm.

Options:
  --url URL                  the RAD-69 endpoint (http or https); credentials in
                             the URL are sent as Basic authentication
  -o, --out DIR              download folder (default: .), created if missing
  --layout TEMPLATE          file paths inside it from DICOM keywords, e.g.
                             "{PatientID}/{StudyDate}_{StudyInstanceUID}/{SOPInstanceUID}.dcm"
                             ({InstanceNumber:04} pads with zeros; values are
                             made safe as names; two instances on one path
                             fail instead of overwriting)
  -c, --concurrency N        requests in flight at once (default: 1)
  --no-split-series          one request for everything instead of one per series
  --ignore CODE              a failure with this error code (e.g.
                             XDSMissingDocument) or error class (e.g.
                             XDSMissingDocumentError) does not fail the run;
                             repeatable, or comma-separated
  --transfer-syntax UID      a transfer syntax to accept, in preference order
                             (repeatable; default: JPEG Lossless SV1, Implicit
                             and Explicit VR Little Endian)
  -H, --header "K: V"        an extra request header (repeatable); visible in
                             the process list, so prefer --header-env for secrets
  --header-env K=VAR         header K with the value of environment variable VAR
                             (repeatable), e.g. --header-env Authorization=RAD69_AUTH
  --cert FILE --key FILE     client certificate and key (PEM) for mutual TLS
  --ca FILE                  an extra CA certificate (PEM) to trust (repeatable)
  --repository-id UID        the RepositoryUniqueId to send
  --mtom                     send MTOM-packaged requests (strict servers)
  --no-must-understand       send wsa:Action and wsa:To without mustUnderstand,
                             for servers that do not process WS-Addressing and
                             answer "MustUnderstand" Faults (e.g. JAX-WS RI
                             without AddressingFeature)
  --retries N                retries of transient failures (default: 3)
  --timeout SEC              seconds to wait for an answer, and longest silence
                             within one (default: 60; 0 disables)
  --resume                   skip instances whose complete file is already there
  --fsync                    flush every file to disk before renaming it
  --json                     print one JSON summary on stdout
  --no-progress              no progress bar (it shows only on a terminal anyway)
  --log-level LEVEL          debug, info, warn (default) or silent
  -h, --help                 show this help
  -V, --version              show the version

Exit status: 0 every instance delivered (or skipped, or ignored); 1 some were
not delivered (each is listed with its reason); 2 usage or input error (nothing
was requested).

Permissions: --allow-net (the server), --allow-read and --allow-write (the
download folder and the input files), --allow-env (for --header-env).

Try it on a fake server: "deno task fake-server --instances list.csv" in a
checkout prints a URL to give to --url.

Example:
  RAD69_AUTH="Bearer abc" rad69 --url https://pacs/dcm4chee-arc/xdsi/ImagingDocumentSource \\
    --header-env Authorization=RAD69_AUTH --out ./dicom --resume \\
    1.2.840.1/1.2.840.1.2/1.2.840.1.2.3
`;

const LOG_LEVELS: readonly CliLogLevel[] = ["debug", "info", "warn", "silent"];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses a whole number option within bounds. */
function wholeNumber(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (
    !/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max
  ) {
    throw new TypeError(
      `Invalid option --${name} "${value}": expected a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

/**
 * Splits a `--header "Name: value"` argument.
 *
 * @param raw The argument.
 * @returns The name and the trimmed value.
 * @throws {TypeError} When there is no colon or the name is not a token.
 */
export function parseHeaderArg(raw: string): [string, string] {
  const colon = raw.indexOf(":");
  const name = colon < 0 ? raw.trim() : raw.slice(0, colon).trim();
  // The value may be a secret: never echo it.
  if (colon < 0) {
    throw new TypeError(
      'Invalid option --header: expected "Name: value", got no colon',
    );
  }
  if (!HEADER_NAME.test(name)) {
    throw new TypeError(
      `Invalid option --header: "${name}" is not a valid header name`,
    );
  }
  return [name, raw.slice(colon + 1).trim()];
}

/**
 * Splits a `--header-env "Name=ENV_VAR"` argument.
 *
 * @param raw The argument.
 * @returns The header name and the variable name.
 * @throws {TypeError} When it is not `Name=VAR`.
 */
export function parseHeaderEnvArg(raw: string): [string, string] {
  const eq = raw.indexOf("=");
  const name = eq < 0 ? "" : raw.slice(0, eq).trim();
  const variable = eq < 0 ? "" : raw.slice(eq + 1).trim();
  if (!HEADER_NAME.test(name) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
    throw new TypeError(
      `Invalid option --header-env "${raw}": expected "Header-Name=ENV_VAR", e.g. "Authorization=RAD69_AUTH"`,
    );
  }
  return [name, variable];
}

/**
 * Every flag of the `rad69` command: one row each. The parser, the typo
 * suggestions and the `--json` detection all read this table; add a row (and
 * a line of {@linkcode HELP_TEXT}) for a new flag.
 */
export const CLI_FLAGS: readonly CliFlag[] = [
  { name: "url", value: "URL" },
  { name: "out", short: "o", value: "DIR" },
  { name: "layout", value: "TEMPLATE" },
  { name: "concurrency", short: "c", value: "N" },
  { name: "no-split-series" },
  { name: "ignore", value: "CODE", multiple: true },
  { name: "transfer-syntax", value: "UID", multiple: true },
  { name: "header", short: "H", value: '"K: V"', multiple: true },
  { name: "header-env", value: "K=VAR", multiple: true },
  { name: "cert", value: "FILE" },
  { name: "key", value: "FILE" },
  { name: "ca", value: "FILE", multiple: true },
  { name: "repository-id", value: "UID" },
  { name: "mtom" },
  { name: "no-must-understand" },
  { name: "retries", value: "N" },
  { name: "timeout", value: "SEC" },
  { name: "resume" },
  { name: "fsync" },
  { name: "json" },
  { name: "no-progress" },
  { name: "instances", short: "i", value: "FILE" },
  { name: "log-level", value: "LEVEL" },
  { name: "kos", value: "FILE", multiple: true },
  { name: "source", value: "UID=URL", multiple: true },
  { name: "registry", value: "URL" },
  { name: "patient", value: "CX" },
  { name: "repository", value: "UID=URL", multiple: true },
  { name: "since", value: "DATE" },
  { name: "until", value: "DATE" },
  { name: "home-community-id", value: "URN" },
  { name: "gateway", value: "URL" },
  { name: "saml-assertion", value: "FILE" },
  { name: "dry-run" },
  { name: "help", short: "h" },
  { name: "version", short: "V" },
];

/** Parsed flag values, by long name. */
class FlagValues {
  readonly #values: ReadonlyMap<string, true | readonly string[]>;
  /** Wraps the tokenizer's map. */
  constructor(values: ReadonlyMap<string, true | readonly string[]>) {
    this.#values = values;
  }
  /** A switch. */
  on(name: string): boolean {
    return this.#values.get(name) === true;
  }
  /** A single value. */
  one(name: string): string | undefined {
    const v = this.#values.get(name);
    return Array.isArray(v) ? v[0] : undefined;
  }
  /** Every value. */
  all(name: string): string[] {
    const v = this.#values.get(name);
    return Array.isArray(v) ? [...v] : [];
  }
}

/**
 * Tells whether the arguments ask for `--json` output, even when they hold
 * a usage error (so that every exit can print a JSON object).
 *
 * @param args The arguments.
 * @returns `true` when `--json` comes before any `--`.
 */
export function wantsJson(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "--json") return true;
  }
  return false;
}

/**
 * Parses the CLI arguments.
 *
 * @param args The arguments (without the program name).
 * @returns Help, version, or the options of a run.
 * @throws {TypeError} On a usage error (unknown option, missing or invalid
 * value); the message says which, and suggests the closest option for a
 * typo.
 *
 * @example Parse a command line
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCliArgs } from "./args.ts";
 *
 * const parsed = parseCliArgs(["--url", "http://pacs/rad69", "1.2/1.2.3/1.2.3.4"]);
 * assert.equal(parsed.kind, "run");
 * if (parsed.kind === "run") {
 *   assert.deepEqual(parsed.options.triplets, ["1.2/1.2.3/1.2.3.4"]);
 * }
 * assert.throws(() => parseCliArgs(["--concurency", "2"]), /did you mean --concurrency/);
 * ```
 */
export function parseCliArgs(args: readonly string[]): ParsedCli {
  const parsed = tokenizeArgs(args, CLI_FLAGS);
  const f = new FlagValues(parsed.values);
  if (f.on("help")) return { kind: "help" };
  if (f.on("version")) return { kind: "version" };
  const v = {
    url: f.one("url"),
    out: f.one("out"),
    layout: f.one("layout"),
    concurrency: f.one("concurrency"),
    "no-split-series": f.on("no-split-series"),
    ignore: f.all("ignore"),
    "transfer-syntax": f.all("transfer-syntax"),
    header: f.all("header"),
    "header-env": f.all("header-env"),
    cert: f.one("cert"),
    key: f.one("key"),
    ca: f.all("ca"),
    "repository-id": f.one("repository-id"),
    mtom: f.on("mtom"),
    "no-must-understand": f.on("no-must-understand"),
    retries: f.one("retries"),
    timeout: f.one("timeout"),
    resume: f.on("resume"),
    fsync: f.on("fsync"),
    json: f.on("json"),
    "no-progress": f.on("no-progress"),
    instances: f.one("instances"),
    "log-level": f.one("log-level"),
  };
  const xds = parseXdsFlags(f);
  if (
    (v.url === undefined || v.url.trim() === "") &&
    !(xds && (xds.sources.length > 0 || xds.gateway !== undefined))
  ) {
    throw new TypeError(
      xds
        ? "Missing option --url or --source: where the images are (the RAD-69 endpoint of each imaging document source)"
        : "Missing option --url: the RAD-69 endpoint",
    );
  }
  if ((v.cert === undefined) !== (v.key === undefined)) {
    throw new TypeError("Invalid options: --cert and --key go together");
  }
  const logLevel = (v["log-level"] ?? "warn") as CliLogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new TypeError(
      `Invalid option --log-level "${logLevel}": expected one of ${
        LOG_LEVELS.join(", ")
      }`,
    );
  }
  let timeoutSeconds: number | undefined;
  if (v.timeout !== undefined) {
    timeoutSeconds = Number(v.timeout);
    if (
      v.timeout.trim() === "" || !Number.isFinite(timeoutSeconds) ||
      timeoutSeconds < 0 || timeoutSeconds > 86_400
    ) {
      throw new TypeError(
        `Invalid option --timeout "${v.timeout}": expected seconds from 0 to 86400`,
      );
    }
  }
  const split = (values: string[] | undefined) =>
    (values ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(
      (s) => s !== "",
    );
  const options: CliOptions = {
    url: (v.url ?? "").trim(),
    out: v.out ?? ".",
    splitSeries: !v["no-split-series"],
    ignore: split(v.ignore),
    transferSyntaxes: split(v["transfer-syntax"]),
    headers: (v.header ?? []).map(parseHeaderArg),
    headerEnv: (v["header-env"] ?? []).map(parseHeaderEnvArg),
    ca: v.ca ?? [],
    resume: v.resume ?? false,
    json: v.json ?? false,
    triplets: parsed.positionals,
    logLevel,
    mtom: v.mtom ?? false,
    mustUnderstand: !v["no-must-understand"],
    fsync: v.fsync ?? false,
    noProgress: v["no-progress"] ?? false,
  };
  const extra: {
    -readonly [K in keyof CliOptions]?: CliOptions[K];
  } = {};
  const concurrency = wholeNumber("concurrency", v.concurrency, 1, 64);
  if (concurrency !== undefined) extra.concurrency = concurrency;
  const retries = wholeNumber("retries", v.retries, 0, 100);
  if (retries !== undefined) extra.retries = retries;
  if (timeoutSeconds !== undefined) extra.timeoutSeconds = timeoutSeconds;
  if (v.cert !== undefined) extra.cert = v.cert;
  if (v.key !== undefined) extra.key = v.key;
  if (v.instances !== undefined) extra.instancesFile = v.instances;
  if (v.layout !== undefined) extra.layout = v.layout;
  if (v["repository-id"] !== undefined) {
    extra.repositoryId = v["repository-id"];
  }
  if (xds) extra.xds = xds;
  return { kind: "run", options: { ...options, ...extra } };
}

/** Splits a `UID=URL` argument (`bare` allows a plain URL: UID ""). */
function uidAndUrl(
  flag: string,
  raw: string,
  bare: boolean,
): [string, string] {
  const eq = raw.indexOf("=");
  const uid = eq < 0 ? "" : raw.slice(0, eq).trim();
  if (eq >= 0 && /^[0-9][0-9.]*$/.test(uid)) {
    return [uid, raw.slice(eq + 1).trim()];
  }
  if (bare && /^https?:\/\//i.test(raw.trim())) return ["", raw.trim()];
  throw new TypeError(
    `Invalid option --${flag} "${raw}": expected UID=URL${
      bare ? " or URL" : ""
    }, e.g. 1.3.6.1.4.1.21367.13.80.110=https://pacs.example/xdsi`,
  );
}

/** A `--since`/`--until` date as an HL7 DTM (YYYYMMDD[hhmm[ss]]). */
function dtm(flag: string, raw: string): string {
  const text = raw.trim();
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const value = iso ? `${iso[1]}${iso[2]}${iso[3]}` : text;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2}(\d{2}(\d{2})?)?)?$/.exec(value);
  const month = m ? Number(m[2]) : 0;
  const day = m ? Number(m[3]) : 0;
  if (!m || month < 1 || month > 12 || day < 1 || day > 31) {
    throw new TypeError(
      `Invalid option --${flag} "${raw}": expected a date YYYY-MM-DD or YYYYMMDD[hhmm[ss]]`,
    );
  }
  return value;
}

/** The XDS-I.b flags, checked together; `undefined` when none is given. */
function parseXdsFlags(f: FlagValues): CliXdsOptions | undefined {
  const kos = f.all("kos");
  const registry = f.one("registry");
  const gateway = f.one("gateway");
  const patient = f.one("patient");
  const given = kos.length > 0 || registry !== undefined ||
    gateway !== undefined || patient !== undefined ||
    f.all("source").length > 0 || f.all("repository").length > 0 ||
    f.on("dry-run");
  if (!given) return undefined;
  if (kos.length > 0 && (registry !== undefined || patient !== undefined)) {
    throw new TypeError(
      "Invalid options: --kos downloads what given manifests list; --registry/--patient find them. Give one or the other",
    );
  }
  if (kos.length === 0 && patient === undefined) {
    throw new TypeError(
      "Missing option --kos FILE or --patient CX: which manifests to download from",
    );
  }
  if (
    patient !== undefined && registry === undefined && gateway === undefined
  ) {
    throw new TypeError(
      "Missing option --registry URL (or --gateway URL): where to find the manifests of --patient",
    );
  }
  const repositories = f.all("repository").map((r) =>
    uidAndUrl("repository", r, true)
  );
  if (
    patient !== undefined && gateway === undefined && repositories.length === 0
  ) {
    throw new TypeError(
      "Missing option --repository [UID=]URL: where to fetch the manifests the registry finds (ITI-43)",
    );
  }
  const community = f.one("home-community-id");
  if (gateway !== undefined && community === undefined) {
    throw new TypeError(
      "Missing option --home-community-id URN: the community to ask through --gateway",
    );
  }
  const out: { -readonly [K in keyof CliXdsOptions]: CliXdsOptions[K] } = {
    kos,
    sources: f.all("source").map((s) => uidAndUrl("source", s, false)),
    repositories,
    dryRun: f.on("dry-run"),
  };
  if (registry !== undefined) out.registry = registry;
  if (patient !== undefined) out.patient = patient;
  if (gateway !== undefined) out.gateway = gateway;
  if (community !== undefined) out.homeCommunityId = community;
  const since = f.one("since");
  const until = f.one("until");
  if (since !== undefined) out.since = dtm("since", since);
  if (until !== undefined) out.until = dtm("until", until);
  const saml = f.one("saml-assertion");
  if (saml !== undefined) out.samlAssertion = saml;
  return out;
}
