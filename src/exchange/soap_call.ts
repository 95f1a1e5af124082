/**
 * A SOAP call whose answer is one XML document (a registry query, not a
 * document retrieve): the exchange core's transport, watchdog, limits,
 * fault detection and retries, returning the SOAP root part (of a plain or
 * an MTOM-packaged answer).
 *
 * @module
 */

import type { ExchangeConfig } from "../config.ts";
import {
  LimitExceededError,
  type Rad69Error,
  Rad69ProtocolError,
} from "../errors.ts";
import { parseMultipartContentType } from "../multipart/content_type.ts";
import {
  MultipartParser,
  type MultipartPart,
} from "../multipart/multipart_parser.ts";
import { parseMediaType } from "../multipart/content_type.ts";
import { backoffDelay, isTransientError } from "../retry.ts";
import type { RetrieveRequest } from "../soap/request.ts";
import { findSoapFault } from "../soap/response.ts";
import { readBodyBatches } from "./body_reader.ts";
import {
  decodePartBody,
  EXCERPT_BYTES,
  excerptOf,
  isRootPart,
  readCapped,
  readExcerpt,
} from "./http_answer.ts";
import { rejectUnsuccessful, SOAP_TYPES } from "./run_exchange.ts";
import { postSoap } from "./transport.ts";
import { ExchangeWatchdog } from "./watchdog.ts";
import type { RequestExtras } from "./transaction.ts";
import {
  isUnauthorized,
  relogin,
  securityHeaderFor,
  stillRefused,
} from "./auth.ts";

/** The SOAP answer of a call. */
export interface SoapAnswer {
  /** The SOAP envelope (the root part of a multipart answer). */
  readonly xml: Uint8Array;
  /** The HTTP status that carried it. */
  readonly status: number;
  /** How many attempts it took. */
  readonly attempts: number;
}

/**
 * Sends a SOAP request and returns its answer's envelope, retrying
 * transient failures (network, 5xx, 429, Receiver faults) with backoff.
 * SOAP Faults, HTTP errors, redirects and oversized answers are typed
 * errors; the root part is capped by `maxRootPartSize`.
 *
 * @param build Builds the request (called per attempt: fresh MessageID).
 * @param config The resolved config.
 * @param what What the call is, for messages ("ITI-18 query").
 * @returns The envelope and its status.
 * @throws {Rad69Error} The last failure.
 */
export async function callSoap(
  build: (extras: RequestExtras) => RetrieveRequest,
  config: ExchangeConfig,
  what: string,
): Promise<SoapAnswer> {
  const { retries, retryBaseDelayMs, retryMaxDelayMs } = config.settings;
  let relogged = false;
  let granted = 0;
  for (let attempt = 1;; attempt++) {
    try {
      const securityHeader = await securityHeaderFor(config);
      const answer = await callOnce(build({ securityHeader }), config, what);
      return { ...answer, attempts: attempt };
    } catch (error) {
      const typed = error as Rad69Error;
      if (config.auth?.onUnauthorized && isUnauthorized(typed)) {
        if (relogged) throw stillRefused(config, typed);
        relogged = true;
        await relogin(config, typed);
        granted++;
        continue;
      }
      if (attempt - granted > retries || !isTransientError(typed)) {
        throw error;
      }
      const delay = backoffDelay(
        attempt,
        typed,
        retryBaseDelayMs,
        retryMaxDelayMs,
      );
      config.logger.warn?.(
        `Retrying the ${what} in ${delay} ms (attempt ${attempt + 1} of ${
          retries + 1
        }) after: ${typed.message}`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      config.signal?.throwIfAborted();
    }
  }
}

/** One attempt of {@linkcode callSoap}. */
async function callOnce(
  request: RetrieveRequest,
  config: ExchangeConfig,
  what: string,
): Promise<{ xml: Uint8Array; status: number }> {
  const controller = new AbortController();
  const watchdog = new ExchangeWatchdog(config, controller);
  config.signal?.throwIfAborted();
  const signal = config.signal
    ? AbortSignal.any([config.signal, controller.signal])
    : controller.signal;
  config.logger.debug?.(
    `POST ${watchdog.url}: ${what}, MessageID ${request.messageId}`,
  );
  let response: Response;
  try {
    response = await postSoap(request, config, watchdog, signal);
  } catch (cause) {
    throw watchdog.transportError(cause);
  }
  try {
    watchdog.armIdle();
    await rejectUnsuccessful(response, watchdog.url);
    const xml = await readRoot(response, config, watchdog);
    const fault = findSoapFault(xml, response.status);
    if (fault) throw fault;
    return { xml, status: response.status };
  } catch (cause) {
    throw watchdog.failure(cause);
  } finally {
    watchdog.pause();
    if (!response.bodyUsed && response.body) {
      await response.body.cancel().catch(() => {});
    }
  }
}

/** The envelope of a plain SOAP answer, or the root part of a multipart one. */
async function readRoot(
  response: Response,
  config: ExchangeConfig,
  watchdog: ExchangeWatchdog,
): Promise<Uint8Array> {
  const s = config.settings;
  const contentType = response.headers.get("content-type") ?? "";
  let essence = "";
  try {
    essence = parseMediaType(contentType).essence;
  } catch {
    // Reported below.
  }
  if (SOAP_TYPES.has(essence)) {
    return await readCapped(
      response,
      s.maxRootPartSize,
      `The SOAP answer from ${watchdog.url}`,
      watchdog,
    );
  }
  if (!essence.startsWith("multipart/") || !response.body) {
    const excerpt = excerptOf(await readExcerpt(response, EXCERPT_BYTES));
    throw new Rad69ProtocolError(
      `Server at ${watchdog.url} answered with unexpected Content-Type "${contentType}"; body starts with ${
        JSON.stringify(excerpt)
      }`,
      { excerpt },
    );
  }
  const ct = parseMultipartContentType(contentType);
  let root: MultipartPart | undefined;
  using parser = new MultipartParser(ct.boundary, {
    engine: s.engine,
    windowSize: Math.min(s.chunkSize, s.maxRootPartSize + 4096),
    maxHeaderBytes: s.maxHeaderBytes,
    maxHeaderCount: s.maxHeaderCount,
    maxPartSize: s.maxRootPartSize,
  });
  try {
    for await (const chunk of readBodyBatches(response.body, watchdog)) {
      parser.push(chunk, (part) => {
        if (!root && isRootPart(ct.start, part.headers, part.index)) {
          root = part;
        }
      });
      if (root) break;
    }
  } catch (error) {
    if (error instanceof LimitExceededError && error.limit === "maxPartSize") {
      throw new LimitExceededError(
        "maxRootPartSize",
        s.maxRootPartSize,
        `The SOAP root part of the answer from ${watchdog.url}`,
      );
    }
    throw error;
  }
  if (!root) {
    throw new Rad69ProtocolError(
      `Multipart answer from ${watchdog.url} ended without its SOAP root part`,
    );
  }
  return decodePartBody(root);
}
