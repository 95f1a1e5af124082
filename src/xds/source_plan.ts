/**
 * Groups the instances listed by KOS manifests by imaging document source
 * (their Retrieve Location UID = RepositoryUniqueId, and community) and
 * maps each group to its endpoint. Every group must have one before any
 * image is requested.
 *
 * @module
 */

import type { Rad69ClientOptions } from "../client.ts";
import { UnknownSourceError } from "../errors.ts";
import type { InstanceReference } from "../reference_types.ts";
import { redactUrl } from "../redact.ts";

/**
 * Where an imaging document source is reached: its RAD-69 URL, or full
 * client options for it (its own headers, TLS, concurrency...), merged
 * over the consumer's.
 */
export type SourceEndpoint = string | URL | Rad69ClientOptions;

/** One imaging document source and what to retrieve from it. */
export interface SourcePlan {
  /** The source's RepositoryUniqueId (the series' Retrieve Location UID). */
  readonly repositoryUniqueId: string;
  /** Its community, when the manifest or the options name one. */
  readonly homeCommunityId?: string | undefined;
  /** The endpoint, as it may be printed (credentials redacted). */
  readonly url: string;
  /** The client options for it (consumer's, then the source's own). */
  readonly options: Rad69ClientOptions;
  /** The instances, in manifest order, each carrying the source's ids. */
  readonly refs: readonly InstanceReference[];
  /** How many distinct studies. */
  readonly studies: number;
  /** How many distinct series. */
  readonly series: number;
}

/** What planning needs besides the references. */
export interface SourcePlanOptions {
  /** The consumer-wide client options (without a url). */
  readonly base: Omit<Rad69ClientOptions, "url">;
  /** The endpoint for every source not in `sources`. */
  readonly url?: string | URL | undefined;
  /** Endpoints by RepositoryUniqueId. */
  readonly sources?: Readonly<Record<string, SourceEndpoint>> | undefined;
}

/** Counts distinct values. */
function distinct(values: Iterable<string>): number {
  return new Set(values).size;
}

/** The endpoint's client options, merged over the base. */
function endpointOptions(
  endpoint: SourceEndpoint,
  base: Omit<Rad69ClientOptions, "url">,
): Rad69ClientOptions {
  if (typeof endpoint === "string" || endpoint instanceof URL) {
    return { ...base, url: endpoint };
  }
  if (endpoint === null || typeof endpoint !== "object" || !endpoint.url) {
    throw new TypeError(
      "Invalid source endpoint: expected a URL or client options with a url",
    );
  }
  return { ...base, ...endpoint };
}

/**
 * Groups instances by source and maps each group to its endpoint.
 * Duplicates (one instance listed by two manifests) are kept once.
 *
 * @param refs The instances, each with its `repositoryUniqueId` (and
 * `homeCommunityId` when known).
 * @param options The endpoints and base options.
 * @returns One plan per source, in first-seen order.
 * @throws {UnknownSourceError} Listing every source without an endpoint.
 */
export function planSources(
  refs: Iterable<InstanceReference>,
  options: SourcePlanOptions,
): SourcePlan[] {
  const groups = new Map<string, InstanceReference[]>();
  const seen = new Set<string>();
  for (const ref of refs) {
    if (seen.has(ref.instanceUid)) continue;
    seen.add(ref.instanceUid);
    const key = `${ref.repositoryUniqueId ?? ""}|${ref.homeCommunityId ?? ""}`;
    let group = groups.get(key);
    if (!group) groups.set(key, group = []);
    group.push(ref);
  }
  const plans: SourcePlan[] = [];
  const missing: ConstructorParameters<typeof UnknownSourceError>[0][number][] =
    [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const repositoryUniqueId = first.repositoryUniqueId ?? "";
    const endpoint = options.sources?.[repositoryUniqueId] ?? options.url;
    const studies = distinct(group.map((r) => r.studyUid));
    const series = distinct(group.map((r) => `${r.studyUid}|${r.seriesUid}`));
    if (endpoint === undefined) {
      missing.push({
        repositoryUniqueId,
        homeCommunityId: first.homeCommunityId,
        instances: group.length,
        series,
      });
      continue;
    }
    const clientOptions = endpointOptions(endpoint, options.base);
    plans.push({
      repositoryUniqueId,
      ...(first.homeCommunityId !== undefined
        ? { homeCommunityId: first.homeCommunityId }
        : {}),
      url: redactUrl(String(clientOptions.url)),
      options: clientOptions,
      refs: group,
      studies,
      series,
    });
  }
  if (missing.length > 0) throw new UnknownSourceError(missing);
  return plans;
}
