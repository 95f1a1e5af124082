/**
 * The one mapping from a RegistryError about a document to the error its
 * document fails with: "not found" codes become `XDSMissingDocumentError`,
 * every other code a `Rad69ServerError` that keeps it.
 *
 * @module
 */

import {
  type Rad69ErrorOptions,
  Rad69ServerError,
  XDSMissingDocumentError,
} from "../errors.ts";
import type { RegistryError } from "../soap/types.ts";

/** The codes servers use for "this document is not here". */
export const MISSING_CODES: ReadonlySet<string> = new Set([
  "XDSMissingDocument",
  "XDSDocumentUniqueIdError",
  "urn:dicom:wado:0017",
]);

/**
 * Makes the error of a document from its RegistryError.
 *
 * @param error The RegistryError.
 * @param messages The message for "not found" and for any other code.
 * @param extra More error options (the instance).
 * @returns The typed error, with the code, context, location and severity.
 */
export function registryErrorOf(
  error: RegistryError,
  messages: { readonly notFound: string; readonly reported: string },
  extra: Rad69ErrorOptions = {},
): Rad69ServerError {
  const options = {
    code: error.code,
    context: error.context,
    location: error.location,
    severity: error.severity,
    ...extra,
  };
  return MISSING_CODES.has(error.code)
    ? new XDSMissingDocumentError(messages.notFound, options)
    : new Rad69ServerError(messages.reported, options);
}
