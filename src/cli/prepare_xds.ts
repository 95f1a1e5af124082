/**
 * The XDS-I.b modes of the `rad69` command (`--kos`, `--registry` /
 * `--patient`, `--gateway`): endpoints and files checked, then an
 * {@linkcode XdsImagingConsumer} that runs the flow.
 *
 * @module
 */

import type { DownloadOptions } from "../download.ts";
import { InvalidUidError, KosError, Rad69Error } from "../errors.ts";
import type { Rad69Logger } from "../logger.ts";
import { assertUid } from "../references.ts";
import {
  type ManifestInput,
  XdsImagingConsumer,
  type XdsImagingConsumerOptions,
  type XdsPlan,
} from "../xds/consumer.ts";
import type { FindDocumentsQuery } from "../xds/iti18.ts";
import type { CliOptions, CliXdsOptions } from "./args.ts";
import { prepareOutputFolder, resolveUserPath, userCwd } from "./paths.ts";
import { missingPermissions } from "./permissions.ts";
import {
  addHeaderEnv,
  endpointUrl,
  headersOf,
  messageOf,
  type Prepared,
  redactQuery,
  resolvePaths,
  sharedClientOptions,
  wantedPermissions,
} from "./prepare.ts";
import type { Redactor } from "./redact.ts";
import { layoutFromTemplate } from "../layout.ts";
import { summaryManifest } from "./summary.ts";

/** An endpoint URL of the XDS modes: no credentials inside it. */
function xdsEndpoint(flag: string, raw: string, redactor: Redactor): URL {
  const url = endpointUrl(flag, raw);
  if (url.username || url.password) {
    if (url.password) redactor.add(url.password);
    throw new TypeError(
      `Invalid option ${flag}: credentials in the URL are not sent in the XDS modes (they would reach every endpoint); use --header-env Authorization=VAR`,
    );
  }
  redactQuery(url, redactor);
  return url;
}

/** The endpoints of a run, checked. */
interface XdsEndpoints {
  url?: URL;
  sources: [string, URL][];
  registry?: URL;
  repository?: URL;
  repositories: [string, URL][];
}

/** Checks every endpoint flag; the gateway stands in for what is not given. */
function xdsEndpoints(
  o: CliOptions,
  xds: CliXdsOptions,
  redactor: Redactor,
): XdsEndpoints {
  const gateway = xds.gateway === undefined
    ? undefined
    : xdsEndpoint("--gateway", xds.gateway, redactor);
  const url = o.url !== "" ? xdsEndpoint("--url", o.url, redactor) : gateway;
  const sources = xds.sources.map(([uid, raw]): [string, URL] => {
    assertUid(uid, "--source UID");
    return [uid, xdsEndpoint(`--source ${uid}`, raw, redactor)];
  });
  const registry = xds.registry === undefined
    ? gateway
    : xdsEndpoint("--registry", xds.registry, redactor);
  let repository = gateway;
  const repositories: [string, URL][] = [];
  for (const [uid, raw] of xds.repositories) {
    const at = xdsEndpoint(`--repository ${uid || raw}`, raw, redactor);
    if (uid === "") repository = at;
    else {
      assertUid(uid, "--repository UID");
      repositories.push([uid, at]);
    }
  }
  return {
    ...(url ? { url } : {}),
    sources,
    ...(registry ? { registry } : {}),
    ...(repository ? { repository } : {}),
    repositories,
  };
}

/** Every URL of the endpoints. */
function allUrls(e: XdsEndpoints): URL[] {
  return [
    ...(e.url ? [e.url] : []),
    ...e.sources.map(([, u]) => u),
    ...(e.registry ? [e.registry] : []),
    ...(e.repository ? [e.repository] : []),
    ...e.repositories.map(([, u]) => u),
  ];
}

/** Reads the `--kos` files (a missing one is a usage error naming it). */
async function readManifests(
  files: readonly string[],
  typed: readonly string[],
): Promise<ManifestInput[]> {
  const inputs: ManifestInput[] = [];
  for (const [i, file] of files.entries()) {
    try {
      inputs.push({ bytes: await Deno.readFile(file), file: typed[i]! });
    } catch (error) {
      throw new TypeError(
        `Cannot read --kos file "${typed[i]}": ${messageOf(error)}`,
      );
    }
  }
  return inputs;
}

/**
 * The `--saml-assertion` callback: the file is read for every request, so
 * a tool that renews it keeps a long pull alive. Read once now, so that a
 * missing file is a usage error.
 */
async function samlHeader(path: string, typed: string) {
  try {
    await Deno.readTextFile(path);
  } catch (error) {
    throw new TypeError(
      `Cannot read --saml-assertion file "${typed}": ${messageOf(error)}`,
    );
  }
  return () => Deno.readTextFile(path);
}

/** The FindDocuments query of `--patient`, `--since` and `--until`. */
function patientQuery(xds: CliXdsOptions): FindDocumentsQuery {
  return {
    patientId: xds.patient!,
    ...(xds.since !== undefined ? { serviceStartFrom: xds.since } : {}),
    ...(xds.until !== undefined ? { serviceStartTo: xds.until } : {}),
  };
}

/**
 * Reads and checks an XDS-I.b run; throws a `TypeError` (or a typed
 * error) for usage and input errors, before any request.
 *
 * @param typed The options as typed.
 * @param xds The XDS-I.b options.
 * @param redactor Collects the secrets.
 * @param logger The run's logger.
 * @returns The run, or the permissions it lacks.
 */
export async function prepareXds(
  typed: CliOptions,
  xds: CliXdsOptions,
  redactor: Redactor,
  logger: Rad69Logger,
): Promise<Prepared | string[]> {
  const o = resolvePaths(typed);
  const base = userCwd();
  const kosFiles = xds.kos.map((p) => resolveUserPath(p, base));
  const saml = xds.samlAssertion === undefined
    ? undefined
    : resolveUserPath(xds.samlAssertion, base);
  const endpoints = xdsEndpoints(o, xds, redactor);
  const urls = allUrls(endpoints);
  const headers = headersOf(o, redactor);
  const missing = await missingPermissions(
    wantedPermissions(o, urls, [...kosFiles, saml]),
  );
  if (missing.length > 0) return missing;
  addHeaderEnv(o, headers, redactor);
  const shared = await sharedClientOptions(
    o,
    headers,
    logger,
    urls.every((u) => u.protocol === "https:"),
  );
  if (xds.homeCommunityId !== undefined && xds.homeCommunityId.trim() === "") {
    throw new InvalidUidError("", "--home-community-id", "is empty");
  }
  const options: XdsImagingConsumerOptions = {
    ...shared,
    ...(endpoints.url ? { url: endpoints.url.href } : {}),
    sources: Object.fromEntries(endpoints.sources.map(([k, u]) => [k, u.href])),
    ...(endpoints.registry ? { registry: endpoints.registry.href } : {}),
    ...(endpoints.repository ? { repository: endpoints.repository.href } : {}),
    repositories: Object.fromEntries(
      endpoints.repositories.map(([k, u]) => [k, u.href]),
    ),
    ...(xds.gateway !== undefined ? { crossGateway: true } : {}),
    ...(xds.homeCommunityId !== undefined
      ? { homeCommunityId: xds.homeCommunityId }
      : {}),
    ...(saml !== undefined
      ? { securityHeader: await samlHeader(saml, xds.samlAssertion!) }
      : {}),
  };
  const layout = o.layout === undefined
    ? undefined
    : layoutFromTemplate(o.layout);
  if (!xds.dryRun) await prepareOutputFolder("--out", typed.out, o.out);
  const consumer = new XdsImagingConsumer(options);
  const printable = [...new Set(urls.map((u) => u.href))].join(", ");
  let given: XdsPlan | undefined;
  if (xds.kos.length > 0) {
    given = consumer.planManifests(await readManifests(kosFiles, xds.kos));
    const unreadable = given.manifests.find((m) => m.status === "failed");
    if (unreadable?.error instanceof KosError) throw unreadable.error;
  }
  const plan = given
    ? () => Promise.resolve(given)
    : () =>
      consumer.planForPatient(
        patientQuery(xds),
        xds.dryRun ? undefined : o.out,
        { resume: o.resume },
      );
  const prepared: Prepared = {
    download: async (downloadOptions: DownloadOptions) =>
      consumer.downloadPlan(await plan(), o.out, downloadOptions),
    dispose: () => {},
    what: given
      ? `${given.instances} instance(s) listed by ${given.manifests.length} manifest(s) from ${printable}`
      : `the images of patient ${xds.patient} from ${printable}`,
    url: printable,
    out: o.out,
  };
  if (xds.dryRun) prepared.dryRun = plan;
  if (layout) prepared.layout = layout;
  return prepared;
}

/**
 * The lines `--dry-run` prints for a plan.
 *
 * @param plan The plan.
 * @returns One line for the totals, one per manifest, one per source.
 */
export function describePlan(plan: XdsPlan): string[] {
  const studies = new Set<string>();
  let series = 0;
  for (const source of plan.sources) {
    for (const ref of source.refs) studies.add(ref.studyUid);
    series += source.series;
  }
  const lines = [
    `Plan (no image requested): ${plan.manifests.length} manifest(s), ${studies.size} study(ies), ${series} series, ${plan.instances} instance(s) from ${plan.sources.length} source(s)`,
  ];
  for (const m of plan.manifests) {
    const name = m.documentUniqueId ?? m.path ?? "?";
    lines.push(
      m.status === "failed"
        ? `  manifest ${name}: failed: ${m.reason}`
        : `  manifest ${name} (${m.status}${
          m.path ? `, ${m.path}` : ""
        }): ${m.studies} study(ies), ${m.instances} instance(s)`,
    );
  }
  for (const s of plan.sources) {
    lines.push(
      `  source ${s.repositoryUniqueId || "(default)"}${
        s.homeCommunityId ? ` of ${s.homeCommunityId}` : ""
      } at ${s.url}: ${s.studies} study(ies), ${s.series} series, ${s.refs.length} instance(s)`,
    );
  }
  return lines;
}

/**
 * The `--dry-run` plan as JSON data.
 *
 * @param plan The plan.
 * @param redact Removes secrets from text.
 * @returns Manifests (as the summary shows them) and sources.
 */
export function planJson(
  plan: XdsPlan,
  redact: (text: string) => string,
): Record<string, unknown> {
  return {
    instances: plan.instances,
    manifests: plan.manifests.map((m) => summaryManifest(m, redact)),
    sources: plan.sources.map((s) => ({
      repositoryUniqueId: s.repositoryUniqueId,
      ...(s.homeCommunityId ? { homeCommunityId: s.homeCommunityId } : {}),
      url: s.url,
      studies: s.studies,
      series: s.series,
      instances: s.refs.length,
    })),
  };
}

/** Tells whether an error of the flow is the user's input (exit 2). */
export function isInputError(error: unknown): boolean {
  return error instanceof Rad69Error &&
    ["UnknownSourceError", "KosError", "InvalidQueryParameterError"].includes(
      error.name,
    );
}
