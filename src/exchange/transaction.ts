/**
 * What the exchange core needs to know about the transaction it carries: a
 * small description, so that RAD-69, ITI-43 and the cross-gateway variants
 * share one transport, one answer reader and one accounting.
 *
 * @module
 */

import type { ExchangeSettings } from "../config.ts";
import type { Rad69Error } from "../errors.ts";
import type { InstanceReference } from "../reference_types.ts";
import type { RetrieveRequest } from "../soap/request.ts";
import type {
  DocumentResponse,
  RegistryError,
  RetrieveResponse,
} from "../soap/types.ts";

/** What the exchange adds to every request of any transaction. */
export interface RequestExtras {
  /** A `wsse:Security` header, inserted byte for byte. */
  readonly securityHeader?: string | undefined;
}

/**
 * One retrieve transaction, as the exchange core sees it.
 *
 * @typeParam Ref What is requested (one document each).
 * @typeParam Delivered What a delivered document becomes.
 */
export interface Transaction<Ref, Delivered> {
  /** Its name in messages ("RAD-69", "ITI-43"). */
  readonly name: string;
  /** What one document is called in messages ("instance", "document"). */
  readonly noun: string;
  /** The DocumentUniqueId a request element and its answer carry. */
  key(ref: Ref): string;
  /** Builds the SOAP request for these documents. */
  buildRequest(
    refs: readonly Ref[],
    settings: ExchangeSettings,
    url: string,
    extras: RequestExtras,
  ): RetrieveRequest;
  /** Reads the root part (or plain SOAP answer). */
  readRoot(xml: Uint8Array, httpStatus: number): RetrieveResponse;
  /**
   * Makes the delivered value from a document's bytes; throws a
   * {@linkcode Rad69Error} when the bytes are not acceptable.
   */
  deliver(
    ref: Ref,
    doc: DocumentResponse,
    bytes: Uint8Array,
    warnings: readonly RegistryError[],
  ): Delivered;
  /**
   * The HomeCommunityId a document is requested with, when it carries its
   * own: a RegistryError located by a community is about every document of
   * that community.
   */
  community(ref: Ref): string | undefined;
  /** Extra error options naming the document (`instance` for RAD-69). */
  errorOptions(ref: Ref): { instance?: InstanceReference };
  /** Turns a RegistryError about this document into its error. */
  registryError(error: RegistryError, ref: Ref): Rad69Error;
}
