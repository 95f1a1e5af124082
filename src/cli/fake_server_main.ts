/**
 * `deno task fake-server`: starts the bundled fake RAD-69 server
 * ({@linkcode FakeRad69Server}) with a synthetic study, prints its URL, writes
 * a matching instance list, and runs until Ctrl-C, so the `rad69` command
 * can be tried by hand.
 *
 * ```sh
 * deno task fake-server --instances list.csv
 * deno task cli --url http://127.0.0.1:PORT/rad69 --instances list.csv --out ./dicom
 * ```
 *
 * @module
 */

import { closestName } from "../suggest.ts";
import {
  buildKos,
  FAKE_DIALECTS,
  type FakeDialect,
  type FakeInstance,
  FakeRad69Server,
  FakeXdsRegistry,
  type FaultPlan,
  syntheticStudy,
} from "../testing/mod.ts";
import { type CliFlag, tokenizeArgs } from "./flags.ts";
import { formatBytes } from "./progress_bar.ts";
import { resolveUserPath } from "./paths.ts";

/** The `--help` text of the fake server. */
export const FAKE_SERVER_HELP: string = `\
rad69-fake-server: a fake RAD-69 Imaging Document Source on loopback, to try
the rad69 command (or your own client) by hand. Runs until Ctrl-C.

Usage:
  deno task fake-server [options]

Options:
  --port N                   port to listen on (default: 0, a free port)
  --hostname HOST            address to listen on (default: 127.0.0.1)
  --dialect NAME             answer framing: cxf (dcm4chee-arc, default),
                             vitrea, nist, axis2, wcf, form-data, inline
  --series N                 series in the synthetic study (default: 2)
  --instances-per-series N   instances per series (default: 3)
  --pixel-bytes N            pixel data bytes per instance (default: 8192)
  --missing N                the last N instances are listed but not served
                             (they fail with XDSMissingDocument)
  --latency MS               delay before every answer
  --bytes-per-second N       bandwidth cap per answer
  --plan JSON                a fault plan for every answer, as JSON, e.g.
                             '{"http":{"status":503}}' (see FaultPlan)
  --fail-first N             answer the first N requests with HTTP 503
  -i, --instances FILE       write the instance list (CSV) there
  --xds                      also be an XDS-I.b affinity domain: the server
                             holds a KOS manifest of the study (ITI-43), and
                             a fake XDS registry (ITI-18) on another port
                             lists it for patient FAKE-1^^^&1.2.840.99999&ISO
  --kos FILE                 write that KOS manifest there (implies --xds)
  -h, --help                 show this help

It prints its URL on the first line of stdout, then how to run rad69 on it.
`;

const FLAGS: readonly CliFlag[] = [
  { name: "port", value: "N" },
  { name: "hostname", value: "HOST" },
  { name: "dialect", value: "NAME" },
  { name: "series", value: "N" },
  { name: "instances-per-series", value: "N" },
  { name: "pixel-bytes", value: "N" },
  { name: "missing", value: "N" },
  { name: "latency", value: "MS" },
  { name: "bytes-per-second", value: "N" },
  { name: "plan", value: "JSON" },
  { name: "fail-first", value: "N" },
  { name: "instances", short: "i", value: "FILE" },
  { name: "xds" },
  { name: "kos", value: "FILE" },
  { name: "help", short: "h" },
];

/** The patient of the `--xds` affinity domain. */
export const FAKE_PATIENT = "FAKE-1^^^&1.2.840.99999&ISO";
/** The repositoryUniqueId of the `--xds` repository (the server itself). */
export const FAKE_REPOSITORY = "1.2.840.99999.10";
/** The Retrieve Location UID the `--xds` manifest gives every series. */
export const FAKE_SOURCE = "1.2.840.99999.20";

/** The settings of one fake server run. */
export interface FakeServerSettings {
  /** The port (0: a free one). */
  readonly port: number;
  /** The address. */
  readonly hostname: string;
  /** The framing. */
  readonly dialect: FakeDialect;
  /** Series in the study. */
  readonly series: number;
  /** Instances per series. */
  readonly perSeries: number;
  /** Pixel bytes per instance. */
  readonly pixelBytes: number;
  /** Instances listed but not served. */
  readonly missing: number;
  /** The server-wide fault plan. */
  readonly plan: FaultPlan;
  /** Requests answered with 503 first. */
  readonly failFirst: number;
  /** Where to write the instance list, as typed. */
  readonly instancesFile?: string;
  /** Also serve an XDS-I.b affinity domain (`--xds`). */
  readonly xds: boolean;
  /** Where to write the KOS manifest, as typed. */
  readonly kosFile?: string;
}

/** A whole number option. */
function count(
  name: string,
  value: string | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n > max) {
    throw new TypeError(
      `Invalid option --${name} "${value}": expected a whole number from 0 to ${max}`,
    );
  }
  return n;
}

/**
 * Parses the fake server's arguments.
 *
 * @param args The arguments.
 * @returns `"help"` or the settings.
 * @throws {TypeError} On a usage error (unknown option with a suggestion,
 * bad value).
 */
export function parseFakeServerArgs(
  args: readonly string[],
): "help" | FakeServerSettings {
  const { values, positionals } = tokenizeArgs(
    args,
    FLAGS,
    "deno task fake-server",
  );
  const one = (name: string) => {
    const v = values.get(name);
    return Array.isArray(v) ? v[0] as string : undefined;
  };
  if (values.get("help") === true) return "help";
  if (positionals.length > 0) {
    throw new TypeError(
      `Unexpected argument "${
        positionals[0]
      }": the fake server takes options only`,
    );
  }
  const dialect = (one("dialect") ?? "cxf") as FakeDialect;
  if (!FAKE_DIALECTS.includes(dialect)) {
    const suggestion = closestName(dialect, FAKE_DIALECTS);
    throw new TypeError(
      `Invalid option --dialect "${dialect}": expected one of ${
        FAKE_DIALECTS.join(", ")
      }${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`,
    );
  }
  let plan: FaultPlan = {};
  const rawPlan = one("plan");
  if (rawPlan !== undefined) {
    try {
      plan = JSON.parse(rawPlan) as FaultPlan;
    } catch (error) {
      throw new TypeError(
        `Invalid option --plan: not valid JSON (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    }
    if (plan === null || typeof plan !== "object" || Array.isArray(plan)) {
      throw new TypeError("Invalid option --plan: expected a JSON object");
    }
  }
  const latency = one("latency");
  const rate = one("bytes-per-second");
  if (latency !== undefined) {
    plan = { ...plan, latencyMs: count("latency", latency, 0, 600_000) };
  }
  if (rate !== undefined) {
    const bytesPerSecond = count("bytes-per-second", rate, 0, 2 ** 40);
    if (bytesPerSecond === 0) {
      throw new TypeError(
        'Invalid option --bytes-per-second "0": expected at least 1',
      );
    }
    plan = { ...plan, bytesPerSecond };
  }
  const series = count("series", one("series"), 2, 1000);
  const perSeries = count(
    "instances-per-series",
    one("instances-per-series"),
    3,
    100_000,
  );
  const settings: FakeServerSettings = {
    port: count("port", one("port"), 0, 65_535),
    hostname: one("hostname") ?? "127.0.0.1",
    dialect,
    series,
    perSeries,
    pixelBytes: count("pixel-bytes", one("pixel-bytes"), 8192, 256 * 2 ** 20),
    missing: count("missing", one("missing"), 0, series * perSeries),
    plan,
    failFirst: count("fail-first", one("fail-first"), 0, 1000),
    xds: values.get("xds") === true || one("kos") !== undefined,
  };
  const file = one("instances");
  const kos = one("kos");
  return {
    ...settings,
    ...(file !== undefined ? { instancesFile: file } : {}),
    ...(kos !== undefined ? { kosFile: kos } : {}),
  };
}

/** Options of {@linkcode runFakeServer}. */
export interface RunFakeServerOptions {
  /** Writes to standard output. */
  stdout: (text: string) => void;
  /** Writes to standard error. */
  stderr: (text: string) => void;
  /** Stops the server. */
  signal: AbortSignal;
}

/**
 * Runs the fake server until the signal aborts.
 *
 * @param args The arguments.
 * @param options Output and the stop signal.
 * @returns The exit status: 0 after a clean stop, 2 on a usage error.
 */
export async function runFakeServer(
  args: readonly string[],
  options: RunFakeServerOptions,
): Promise<number> {
  const { stdout, stderr } = options;
  let settings: "help" | FakeServerSettings;
  try {
    settings = parseFakeServerArgs(args);
  } catch (error) {
    stderr(
      `rad69-fake-server: ${
        error instanceof Error ? error.message : String(error)
      }\nRun "deno task fake-server --help" for usage.\n`,
    );
    return 2;
  }
  if (settings === "help") {
    stdout(FAKE_SERVER_HELP);
    return 0;
  }
  const study = syntheticStudy({
    series: settings.series,
    instancesPerSeries: settings.perSeries,
    pixelBytes: settings.pixelBytes,
  });
  const served = study.slice(0, study.length - settings.missing);
  await using server = await FakeRad69Server.start({
    instances: served,
    dialect: settings.dialect,
    hostname: settings.hostname,
    port: settings.port,
    plan: settings.plan,
  });
  await using domain = settings.xds
    ? await startDomain(server, study, settings.kosFile)
    : undefined;
  for (let i = 0; i < settings.failFirst; i++) {
    server.enqueue({ http: { status: 503, headers: { "retry-after": "1" } } });
  }
  let listed = "";
  if (settings.instancesFile !== undefined) {
    const path = resolveUserPath(settings.instancesFile);
    await Deno.writeTextFile(
      path,
      [
        "study,series,instance",
        ...study.map((i) => `${i.studyUid},${i.seriesUid},${i.instanceUid}`),
        "",
      ].join("\n"),
    );
    listed = ` --instances ${settings.instancesFile}`;
  }
  const size = served.reduce((n, i) => n + i.bytes.length, 0);
  stdout(`${server.url}\n`);
  stderr(
    [
      `Fake RAD-69 server (${settings.dialect} framing) at ${server.url}`,
      `Serving 1 study, ${settings.series} series, ${served.length} instance(s) (${
        formatBytes(size)
      })${
        settings.missing > 0
          ? `; ${settings.missing} more listed but missing`
          : ""
      }`,
      settings.instancesFile !== undefined
        ? `Instance list written to ${settings.instancesFile}`
        : "No instance list written (give --instances FILE)",
      `Try: deno task cli --url ${server.url}${listed} --out ./dicom`,
      ...(domain
        ? [
          `XDS registry (ITI-18) at ${domain.registry.url}; repository (ITI-43) ${FAKE_REPOSITORY} at ${server.url}${
            settings.kosFile ? `; manifest written to ${settings.kosFile}` : ""
          }`,
          `Try: deno task cli --registry ${domain.registry.url} --patient '${FAKE_PATIENT}' --repository ${server.url} --url ${server.url} --out ./dicom`,
          ...(settings.kosFile
            ? [
              `  or: deno task cli --kos ${settings.kosFile} --source ${FAKE_SOURCE}=${server.url} --out ./dicom`,
            ]
            : []),
        ]
        : []),
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
  if (!options.signal.aborted) {
    await new Promise<void>((resolve) =>
      options.signal.addEventListener("abort", () => resolve(), { once: true })
    );
  }
  stderr(
    `Stopped after ${server.requests.length} request(s).\n`,
  );
  return 0;
}

/**
 * The `--xds` affinity domain: a KOS manifest of the study held by the
 * server (its repository role) and a registry listing it for
 * {@linkcode FAKE_PATIENT}.
 */
async function startDomain(
  server: FakeRad69Server,
  study: readonly FakeInstance[],
  kosFile: string | undefined,
) {
  const seriesUids = [...new Set(study.map((i) => i.seriesUid))];
  const studyUid = study[0]!.studyUid;
  const kosUid = `${studyUid}.9999`;
  const bytes = buildKos({
    sopInstanceUid: kosUid,
    patientId: "FAKE-1",
    studies: [{
      studyUid,
      series: seriesUids.map((seriesUid) => ({
        seriesUid,
        repositoryUniqueId: FAKE_SOURCE,
        instances: study.filter((i) => i.seriesUid === seriesUid),
      })),
    }],
  });
  server.addInstances([{
    studyUid,
    seriesUid: `${studyUid}.9998`,
    instanceUid: kosUid,
    bytes,
  }]);
  if (kosFile !== undefined) {
    await Deno.writeFile(resolveUserPath(kosFile), bytes);
  }
  const registry = await FakeXdsRegistry.start({
    documents: [{
      patientId: FAKE_PATIENT,
      uniqueId: kosUid,
      repositoryUniqueId: FAKE_REPOSITORY,
      title: "Fake study manifest",
    }],
  });
  return {
    registry,
    [Symbol.asyncDispose]: () => registry.close(),
  };
}

if (import.meta.main) {
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  const encoder = new TextEncoder();
  const status = await runFakeServer(Deno.args, {
    stdout: (text) => Deno.stdout.writeSync(encoder.encode(text)),
    stderr: (text) => Deno.stderr.writeSync(encoder.encode(text)),
    signal: controller.signal,
  });
  Deno.removeSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", stop);
  Deno.exit(status);
}
