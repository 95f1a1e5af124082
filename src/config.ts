/**
 * The one place where options become settings: every default lives here,
 * options are checked once, secrets are collected once and the logger is
 * redacted once. The result is frozen; the exchange, the retry loop, the
 * scheduler and every worker read it and never copy it field by field.
 *
 * Two layers:
 * - {@linkcode ExchangeSettings}: plain data (structured-cloneable), what a
 *   worker receives with each job.
 * - {@linkcode ExchangeConfig}: the settings plus the resources that stay on
 *   one thread (fetch, HTTP client, logger, signal, callbacks).
 *
 * @module
 */

import type { ScanEngineKind } from "./multipart/engines.ts";
import { type Rad69Logger, silentLogger } from "./logger.ts";
import { collectSecrets, redactLogger, redactUrl } from "./redact.ts";
import type { AttemptReport } from "./outcome.ts";
import type {
  AuthHooks,
  Session,
  UnauthorizedEvent,
} from "./exchange/auth_types.ts";

/** Every default of the package, in one place. */
export const DEFAULTS = Object.freeze({
  requestPerSeries: true,
  maxInstancesPerRequest: 0,
  retries: 3,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  timeoutMs: 60_000,
  idleTimeoutMs: 60_000,
  chunkSize: 5 * 2 ** 20,
  engine: "wasm" as ScanEngineKind,
  concurrency: 1,
  prefetch: 2,
  ordered: false,
  maxRootPartSize: 64 * 2 ** 20,
  maxPartSize: 2 ** 36,
  maxDatasetSize: 2 ** 30,
  maxHeaderBytes: 16_384,
  maxHeaderCount: 64,
  addressingMustUnderstand: true,
  crossGateway: false,
});

/** The smallest window the splitter accepts. */
const MIN_CHUNK_SIZE = 1024;

/** What an exchange needs to know, as plain data a worker can receive. */
export interface ExchangeSettings {
  /** The endpoint URL as given (it may hold user info). */
  readonly url: string;
  /** The endpoint URL as it may be printed (credentials redacted). */
  readonly printableUrl: string;
  /** Request headers as name/value pairs. Never logged. */
  readonly headers: readonly (readonly [string, string])[];
  /** Values that must never reach an error or a log line. */
  readonly secrets: readonly string[];
  /**
   * Error class names and codes the caller ignores (from `errorsToIgnore`):
   * a document sent with an Error about it is then delivered with a
   * warning instead of failed.
   */
  readonly ignoredErrors: readonly string[];
  /** Transfer syntaxes to ask for (the request builder's list if absent). */
  readonly transferSyntaxes?: readonly string[];
  /** RepositoryUniqueId of every DocumentRequest. */
  readonly repositoryUniqueId?: string;
  /** HomeCommunityId of every DocumentRequest. */
  readonly homeCommunityId?: string;
  /** Send the request MTOM-packaged. */
  readonly mtom?: boolean;
  /** Mark `wsa:Action` and `wsa:To` `mustUnderstand="1"`. */
  readonly addressingMustUnderstand: boolean;
  /** Send the cross-gateway actions (RAD-75, ITI-39, ITI-38). */
  readonly crossGateway: boolean;
  /** The splitter's window size in bytes. */
  readonly chunkSize: number;
  /** The delimiter search engine. */
  readonly engine: ScanEngineKind;
  /** Milliseconds to wait for response headers; 0 disables. */
  readonly timeoutMs: number;
  /** Milliseconds without body bytes before the transfer stalls; 0 disables. */
  readonly idleTimeoutMs: number;
  /** The largest SOAP root part, in bytes. */
  readonly maxRootPartSize: number;
  /** The largest part, in bytes. */
  readonly maxPartSize: number;
  /** The largest instance held in memory (not written to a file). */
  readonly maxDatasetSize: number;
  /** The largest header section of a part, in bytes. */
  readonly maxHeaderBytes: number;
  /** The most header fields in a part. */
  readonly maxHeaderCount: number;
  /** How many times a transient failure is retried. */
  readonly retries: number;
  /** The first backoff delay in milliseconds. */
  readonly retryBaseDelayMs: number;
  /** The longest backoff delay in milliseconds. */
  readonly retryMaxDelayMs: number;
}

/** The callbacks a call may add to an exchange. */
export interface ExchangeCallbacks {
  /** Stops the exchange. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the byte count of every body chunk read. */
  readonly onBytes?: ((bytes: number) => void) | undefined;
  /** Called after every attempt. */
  readonly onAttempt?:
    | ((report: AttemptReport) => void)
    | undefined;
}

/** Settings plus the resources that stay on one thread. */
export interface ExchangeConfig extends ExchangeCallbacks {
  /** The plain-data settings. */
  readonly settings: ExchangeSettings;
  /** The fetch to use. */
  readonly fetch: typeof fetch;
  /** A `Deno.HttpClient` (mutual TLS, custom CA, proxy). */
  readonly client?: Deno.HttpClient | undefined;
  /** Where diagnostics go, already redacted (with `session.secrets`). */
  readonly logger: Rad69Logger;
  /** XUA header and re-login hooks (keep the exchange on this thread). */
  readonly auth?: AuthHooks | undefined;
  /** Headers from a re-login and the secrets to redact, shared by calls. */
  readonly session: Session;
}

/** The options the exchange layers accept (all but `url` optional). */
export interface ExchangeOptions {
  /** The endpoint URL. */
  url: string | URL;
  /** Extra request headers (e.g. Authorization). */
  headers?: HeadersInit;
  /** The fetch to use. */
  fetch?: typeof fetch;
  /** A `Deno.HttpClient`. */
  client?: Deno.HttpClient;
  /** Stops the exchange. */
  signal?: AbortSignal;
  /** Where diagnostics go (redacted first). */
  logger?: Rad69Logger;
  /** Called with the byte count of every body chunk read. */
  onBytes?: (bytes: number) => void;
  /** Called after every attempt. */
  onAttempt?: (report: AttemptReport) => void;
  /** The XML of a `wsse:Security` header, asked for per request. */
  securityHeader?: () => string | Promise<string>;
  /** Called once when the server refuses the credentials. */
  onUnauthorized?: (
    event: UnauthorizedEvent,
  ) => HeadersInit | void | Promise<HeadersInit | void>;
  /** Transfer syntaxes to ask for. */
  transferSyntaxes?: readonly string[];
  /** Error classes (by name) or error codes the caller ignores. */
  errorsToIgnore?: readonly (string | { readonly name: string })[];
  /** RepositoryUniqueId of every DocumentRequest. */
  repositoryUniqueId?: string;
  /** HomeCommunityId of every DocumentRequest. */
  homeCommunityId?: string;
  /** Send the request MTOM-packaged. */
  mtom?: boolean;
  /** Mark the WS-Addressing headers mustUnderstand. */
  addressingMustUnderstand?: boolean;
  /** Send the cross-gateway actions (RAD-75, ITI-39, ITI-38). */
  crossGateway?: boolean;
  /** The splitter's window size in bytes. */
  chunkSize?: number;
  /** The delimiter search engine. */
  engine?: ScanEngineKind;
  /** Milliseconds to wait for response headers. */
  timeoutMs?: number;
  /** Milliseconds without body bytes before the transfer stalls. */
  idleTimeoutMs?: number;
  /** The largest SOAP root part, in bytes. */
  maxRootPartSize?: number;
  /** The largest part, in bytes. */
  maxPartSize?: number;
  /** The largest instance held in memory, in bytes. */
  maxDatasetSize?: number;
  /** The largest header section of a part, in bytes. */
  maxHeaderBytes?: number;
  /** The most header fields in a part. */
  maxHeaderCount?: number;
  /** How many times a transient failure is retried. */
  retries?: number;
  /** The first backoff delay in milliseconds. */
  retryBaseDelayMs?: number;
  /** The longest backoff delay in milliseconds. */
  retryMaxDelayMs?: number;
}

const RESOLVED = Symbol("rad69.resolvedConfig");

/**
 * Checks a count option: a finite number at least `min` (or absent).
 *
 * @param name The option's name, for the message.
 * @param value The value.
 * @param min The smallest value accepted.
 * @throws {RangeError} When the value is not such a number.
 */
export function checkCount(
  name: string,
  value: number | undefined,
  min = 0,
): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(
      `Invalid option ${name}: expected a number >= ${min}, got ${value}`,
    );
  }
}

/**
 * Resolves exchange options into settings: defaults applied, counts
 * checked, secrets collected. A negative `retries` is refused, here as in
 * the client.
 *
 * @param options The options.
 * @returns The frozen settings.
 * @throws {RangeError} When a count option is out of range.
 */
export function resolveSettings(options: ExchangeOptions): ExchangeSettings {
  checkCount("retries", options.retries);
  checkCount("retryBaseDelayMs", options.retryBaseDelayMs);
  checkCount("retryMaxDelayMs", options.retryMaxDelayMs);
  checkCount("timeoutMs", options.timeoutMs);
  checkCount("idleTimeoutMs", options.idleTimeoutMs);
  checkCount("chunkSize", options.chunkSize, MIN_CHUNK_SIZE);
  checkCount("maxRootPartSize", options.maxRootPartSize, 1);
  checkCount("maxPartSize", options.maxPartSize, 1);
  checkCount("maxDatasetSize", options.maxDatasetSize, 1);
  checkCount("maxHeaderBytes", options.maxHeaderBytes, 1);
  checkCount("maxHeaderCount", options.maxHeaderCount, 1);
  const url = String(options.url);
  const headers = [...new Headers(options.headers)] as [string, string][];
  const settings: ExchangeSettings = {
    url,
    printableUrl: redactUrl(url),
    headers,
    secrets: collectSecrets(url, options.headers),
    ignoredErrors: (options.errorsToIgnore ?? []).map((e) =>
      typeof e === "string" ? e : e.name
    ),
    ...(options.transferSyntaxes
      ? { transferSyntaxes: [...options.transferSyntaxes] }
      : {}),
    ...(options.repositoryUniqueId !== undefined
      ? { repositoryUniqueId: options.repositoryUniqueId }
      : {}),
    ...(options.homeCommunityId !== undefined
      ? { homeCommunityId: options.homeCommunityId }
      : {}),
    ...(options.mtom !== undefined ? { mtom: options.mtom } : {}),
    addressingMustUnderstand: options.addressingMustUnderstand ??
      DEFAULTS.addressingMustUnderstand,
    crossGateway: options.crossGateway ?? DEFAULTS.crossGateway,
    chunkSize: options.chunkSize ?? DEFAULTS.chunkSize,
    engine: options.engine ?? DEFAULTS.engine,
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    maxRootPartSize: options.maxRootPartSize ?? DEFAULTS.maxRootPartSize,
    maxPartSize: options.maxPartSize ?? DEFAULTS.maxPartSize,
    maxDatasetSize: options.maxDatasetSize ?? DEFAULTS.maxDatasetSize,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes,
    maxHeaderCount: options.maxHeaderCount ?? DEFAULTS.maxHeaderCount,
    retries: options.retries ?? DEFAULTS.retries,
    retryBaseDelayMs: options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs,
    retryMaxDelayMs: options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs,
  };
  return Object.freeze(settings);
}

/**
 * Builds the config of an exchange from resolved settings and the
 * resources of this thread. The logger is redacted here, once.
 *
 * @param settings The resolved settings.
 * @param resources Fetch, HTTP client, logger, signal and callbacks.
 * @returns The frozen config.
 */
export function makeConfig(
  settings: ExchangeSettings,
  resources: {
    fetch?: typeof fetch | undefined;
    client?: Deno.HttpClient | undefined;
    logger?: Rad69Logger | undefined;
    redactedLogger?: Rad69Logger | undefined;
    auth?: AuthHooks | undefined;
    session?: Session | undefined;
  } & ExchangeCallbacks = {},
): ExchangeConfig {
  const session = resources.session ?? newSession(settings);
  const auth = resources.auth?.securityHeader || resources.auth?.onUnauthorized
    ? resources.auth
    : undefined;
  const config: ExchangeConfig & { [RESOLVED]: true } = {
    settings,
    fetch: resources.fetch ?? globalThis.fetch,
    client: resources.client,
    logger: resources.redactedLogger ??
      redactLogger(resources.logger ?? silentLogger, session.secrets),
    auth,
    session,
    signal: resources.signal,
    onBytes: resources.onBytes,
    onAttempt: resources.onAttempt,
    [RESOLVED]: true,
  };
  return Object.freeze(config);
}

/**
 * The same config with other per-call callbacks (the logger stays the one
 * already redacted).
 *
 * @param config A resolved config.
 * @param callbacks The callbacks of this call.
 * @returns The frozen config.
 */
export function withCallbacks(
  config: ExchangeConfig,
  callbacks: ExchangeCallbacks,
): ExchangeConfig {
  return makeConfig(config.settings, {
    fetch: config.fetch,
    client: config.client,
    redactedLogger: config.logger,
    auth: config.auth,
    session: config.session,
    signal: callbacks.signal,
    onBytes: callbacks.onBytes,
    onAttempt: callbacks.onAttempt,
  });
}

/**
 * Resolves exchange options, or returns a config that already is.
 *
 * @param options Options, or a resolved config.
 * @returns The frozen config.
 * @throws {RangeError} When a count option is out of range.
 */
export function resolveExchangeConfig(
  options: ExchangeOptions | ExchangeConfig,
): ExchangeConfig {
  if (RESOLVED in options) return options as ExchangeConfig;
  const o = options as ExchangeOptions;
  return makeConfig(resolveSettings(o), {
    ...o,
    auth: {
      securityHeader: o.securityHeader,
      onUnauthorized: o.onUnauthorized,
    },
  });
}

/**
 * A fresh session: no headers yet, the configured secrets.
 *
 * @param settings The resolved settings.
 * @returns The session.
 */
export function newSession(settings: ExchangeSettings): Session {
  return { headers: new Headers(), secrets: [...settings.secrets] };
}
