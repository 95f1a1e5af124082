/**
 * The values `--ignore` accepts: the package's error classes and the error
 * codes servers send (IHE XDS RegistryError codes, SOAP Fault codes, DICOM
 * `urn:dicom:wado:` codes).
 *
 * @module
 */

import * as errors from "../errors.ts";
import { closestName } from "../suggest.ts";

/** RegistryError codes of IHE ITI TF-3 Table 4.2.4.1-2 a retrieve may carry. */
const XDS_CODES: readonly string[] = [
  "XDSMissingDocument",
  "XDSDocumentUniqueIdError",
  "XDSUnknownRepositoryId",
  "XDSRepositoryBusy",
  "XDSRepositoryError",
  "XDSRepositoryOutOfResources",
  "XDSRegistryBusy",
  "XDSRegistryError",
  "XDSRegistryOutOfResources",
  "XDSUnknownCommunity",
  "XDSUnavailableCommunity",
  "XDSMissingHomeCommunityId",
  "XDSUnknownPatientId",
  "XDSPatientIdDoesNotMatch",
  "XDSResultNotSinglePatient",
  "XDSTooManyResults",
  "XDSExtraMetadataNotSaved",
  "XDSPartialSuccess",
  "PartialAppendContentNotProcessed",
];

/** SOAP 1.2 Fault codes, bare (a prefix such as `env:` is allowed too). */
const SOAP_CODES: readonly string[] = [
  "Sender",
  "Receiver",
  "MustUnderstand",
  "VersionMismatch",
  "DataEncodingUnknown",
];

/** The names of the package's error classes (Rad69Error and its subclasses). */
export function errorClassNames(): string[] {
  return Object.entries(errors).filter(([, value]) =>
    typeof value === "function" &&
    (value === errors.Rad69Error ||
      value.prototype instanceof errors.Rad69Error)
  ).map(([name]) => name).sort();
}

/**
 * Checks `--ignore` values: each must be an error class of the package, a
 * known XDS or SOAP Fault code, or a URN code (`urn:…`, e.g.
 * `urn:dicom:wado:0017`, which servers define).
 *
 * @param values The `--ignore` values.
 * @throws {TypeError} For an unknown value, naming the closest known one
 * and listing the known classes and codes.
 */
export function checkIgnoreValues(values: readonly string[]): void {
  const classes = errorClassNames();
  const known = new Set([...classes, ...XDS_CODES, ...SOAP_CODES]);
  for (const value of values) {
    if (known.has(value) || /^urn:[a-z0-9][a-z0-9-]*:\S+$/i.test(value)) {
      continue;
    }
    const bare = value.replace(/^[A-Za-z][\w.-]*:/, "");
    if (bare !== value && SOAP_CODES.includes(bare)) continue;
    const suggestion = closestName(value, known);
    throw new TypeError(
      `Invalid option --ignore "${value}": not an error class or code${
        suggestion ? ` (did you mean "${suggestion}"?)` : ""
      }. Error classes: ${classes.join(", ")}. Codes: ${
        XDS_CODES.join(", ")
      }, the SOAP Fault codes ${
        SOAP_CODES.join(", ")
      }, or any URN code such as urn:dicom:wado:0017`,
    );
  }
}
