/**
 * One exchange: one SOAP POST and its streamed answer, with per-document
 * accounting. The only place that knows about fetch, timeouts, answer
 * framing and limits; the transaction it carries is a small description.
 *
 * @module
 */

import {
  AuthenticationError,
  Rad69HttpError,
  Rad69ProtocolError,
} from "../errors.ts";
import type { ExchangeConfig } from "../config.ts";
import { parseMediaType } from "../multipart/content_type.ts";
import type { ExchangeOutcome } from "../outcome.ts";
import { cutText, redactUrl, stripUserinfo } from "../redact.ts";
import { findSoapFault } from "../soap/response.ts";
import { Accounting } from "./accounting.ts";
import {
  EXCERPT_BYTES,
  excerptOf,
  faultInMultipart,
  looksLikeXml,
  parseRetryAfter,
  readCapped,
  readExcerpt,
} from "./http_answer.ts";
import { readMultipartAnswer } from "./mtom_answer.ts";
import { SinkError, type Transaction } from "./transaction.ts";
import { ExchangeWatchdog } from "./watchdog.ts";
import { postSoap } from "./transport.ts";
import { securityHeaderFor } from "./auth.ts";

export const SOAP_TYPES: ReadonlySet<string> = new Set([
  "application/soap+xml",
  "text/xml",
  "application/xml",
  "application/xop+xml",
]);

/**
 * Runs one exchange for a batch and yields one outcome per requested
 * document: delivered (as its part arrives) or failed with a reason (after
 * the answer ends). It never throws for a server, protocol or network
 * failure: those become failures of the documents concerned. It throws
 * only when the config's `signal` aborts.
 *
 * @param transaction The transaction carried.
 * @param refs What to request in one SOAP request.
 * @param config The resolved config.
 * @returns The outcomes, one per distinct requested document.
 */
export async function* runExchange<Ref, Delivered>(
  transaction: Transaction<Ref, Delivered>,
  refs: readonly Ref[],
  config: ExchangeConfig,
): AsyncGenerator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
  const s = config.settings;
  const controller = new AbortController();
  const watchdog = new ExchangeWatchdog(config, controller);
  const accounting = new Accounting(
    transaction,
    refs,
    config.session.secrets,
    s.ignoredErrors,
    s,
  );
  let securityHeader: string | undefined;
  try {
    securityHeader = await securityHeaderFor(config);
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error;
    yield* accounting.failAll(() => error);
    return;
  }
  const request = transaction.buildRequest(refs, s, stripUserinfo(s.url), {
    securityHeader,
  });
  config.signal?.throwIfAborted();
  const signal = config.signal
    ? AbortSignal.any([config.signal, controller.signal])
    : controller.signal;
  config.logger.debug?.(
    `POST ${watchdog.url}: ${refs.length} ${transaction.noun}(s) (${transaction.name}), MessageID ${request.messageId}`,
  );
  let response: Response;
  try {
    response = await postSoap(request, config, watchdog, signal);
  } catch (cause) {
    const error = watchdog.transportError(cause);
    yield* accounting.failAll(() => error);
    return;
  }
  try {
    watchdog.armIdle();
    config.logger.debug?.(
      `HTTP ${response.status} from ${watchdog.url}: ${
        response.headers.get("content-type") ?? "no Content-Type"
      }`,
    );
    yield* readAnswer(
      response,
      refs,
      transaction,
      accounting,
      config,
      watchdog,
    );
  } catch (cause) {
    watchdog.pause();
    // A disk error of a sink stops the run: it is not the server's.
    if (cause instanceof SinkError) throw cause;
    const error = watchdog.failure(cause);
    config.logger.debug?.(
      `Exchange with ${watchdog.url} failed: ${error.message}`,
    );
    yield* accounting.failAll(() => error);
  } finally {
    watchdog.pause();
    if (!response.bodyUsed && response.body) {
      await response.body.cancel().catch(() => {});
    }
  }
}

/** Reads a 2xx answer by its Content-Type; throws for anything else. */
async function* readAnswer<Ref, Delivered>(
  response: Response,
  refs: readonly Ref[],
  transaction: Transaction<Ref, Delivered>,
  accounting: Accounting<Ref, Delivered>,
  config: ExchangeConfig,
  watchdog: ExchangeWatchdog,
): AsyncGenerator<ExchangeOutcome<Ref, Delivered>, void, undefined> {
  await rejectUnsuccessful(response, watchdog.url);
  const contentType = response.headers.get("content-type");
  const url = watchdog.url;
  if (!contentType) {
    const excerpt = excerptOf(await readExcerpt(response, EXCERPT_BYTES));
    throw new Rad69ProtocolError(
      `Server at ${url} answered without a Content-Type; body starts with ${
        JSON.stringify(excerpt)
      }`,
      { excerpt },
    );
  }
  let essence: string;
  try {
    essence = parseMediaType(contentType).essence;
  } catch {
    essence = "";
  }
  if (essence.startsWith("multipart/")) {
    yield* readMultipartAnswer(
      response,
      contentType,
      refs,
      transaction,
      accounting,
      config,
      watchdog,
    );
    return;
  }
  if (SOAP_TYPES.has(essence)) {
    const body = await readCapped(
      response,
      config.settings.maxRootPartSize,
      `The SOAP answer from ${url}`,
      watchdog,
    );
    watchdog.pause();
    const parsed = transaction.readRoot(body, response.status);
    yield* accounting.settle(parsed, new Set(), refs, config.logger);
    return;
  }
  const excerpt = excerptOf(await readExcerpt(response, EXCERPT_BYTES));
  throw new Rad69ProtocolError(
    `Server at ${url} answered with unexpected Content-Type "${contentType}"; body starts with ${
      JSON.stringify(excerpt)
    }`,
    { excerpt },
  );
}

/**
 * Throws the typed error of a redirect or an unsuccessful status: a SOAP
 * Fault when the body holds one (at any status), else an HTTP error with
 * an excerpt and the `Retry-After`.
 */
export async function rejectUnsuccessful(
  response: Response,
  url: string,
): Promise<void> {
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get("location");
    const target = location === null ? "nowhere" : `"${redactUrl(location)}"`;
    throw new Rad69HttpError(
      `Server at ${url} redirected (HTTP ${response.status}) to ${target}; redirects are not followed, so that the request and its credentials stay on the configured endpoint: set url to the new location`,
      { status: response.status, url, bodyExcerpt: "" },
    );
  }
  if (response.ok) return;
  const contentType = response.headers.get("content-type");
  const excerpt = await readExcerpt(response);
  const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
  if (looksLikeXml(contentType, excerpt)) {
    const fault = findSoapFault(excerpt, response.status) ??
      faultInMultipart(excerpt, contentType, response.status);
    if (fault) {
      if (retryAfter !== undefined) fault.retryAfterSeconds = retryAfter;
      throw fault;
    }
  }
  const text = excerptOf(excerpt);
  throw new Rad69HttpError(
    `Server at ${url} answered HTTP ${response.status} ${response.statusText}: ${
      JSON.stringify(cutText(text, 200))
    }`,
    {
      status: response.status,
      url,
      bodyExcerpt: text,
      ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
    },
  );
}
