/**
 * Reads an ITI-18 / ITI-38 `query:AdhocQueryResponse` (ebRS 3.0) into its
 * status, RegistryErrors and DocumentEntries (`rim:ExtrinsicObject`s),
 * elements matched by namespace URI whatever the prefixes. A Failure is a
 * typed error with the registry's codes.
 *
 * @module
 */

import {
  Rad69ProtocolError,
  RegistryQueryError,
  XDSTooManyResultsError,
} from "../errors.ts";
import {
  bodyElement,
  readRegistryStatus,
  readSoapBody,
} from "../soap/response.ts";
import type { RegistryError, RetrieveStatus } from "../soap/types.ts";
import { child, childrenNamed, type XmlElement } from "../xml.ts";
import type { XdsCode } from "./query_params.ts";

const QUERY_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
const RIM_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";

/** identificationScheme of XDSDocumentEntry.uniqueId. */
export const UNIQUE_ID_SCHEME = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
/** identificationScheme of XDSDocumentEntry.patientId. */
export const PATIENT_ID_SCHEME =
  "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
/** classificationScheme of XDSDocumentEntry.formatCode. */
export const FORMAT_CODE_SCHEME =
  "urn:uuid:a09d5840-386f-4076-9f5a-a4f6f6ad7c1a";
/** classificationScheme of XDSDocumentEntry.classCode. */
export const CLASS_CODE_SCHEME =
  "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
/** classificationScheme of XDSDocumentEntry.typeCode. */
export const TYPE_CODE_SCHEME = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";

/**
 * One XDS DocumentEntry of a query answer: where the document is
 * (`repositoryUniqueId`, `homeCommunityId`) and what it is.
 *
 * @example Turn an entry into an ITI-43 document request
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DocumentEntry, findDocuments } from "./iti18.ts";
 * import { FakeXdsRegistry } from "@rad69/client/testing";
 *
 * await using registry = await FakeXdsRegistry.start();
 * registry.addDocument({
 *   patientId: "P1^^^&1.2.3&ISO",
 *   uniqueId: "1.2.3.4.100",
 *   repositoryUniqueId: "1.2.3.4.5",
 * });
 * const { documents } = await findDocuments(
 *   { patientId: "P1^^^&1.2.3&ISO" },
 *   { url: registry.url },
 * );
 * const entry: DocumentEntry = documents[0]!;
 * const request = {
 *   repositoryUniqueId: entry.repositoryUniqueId,
 *   documentUniqueId: entry.uniqueId,
 * };
 * assert.deepEqual(request, {
 *   repositoryUniqueId: "1.2.3.4.5",
 *   documentUniqueId: "1.2.3.4.100",
 * });
 * ```
 */
export interface DocumentEntry {
  /** The `rim:ExtrinsicObject` id (the entryUUID), "" when absent. */
  readonly entryUuid: string;
  /** XDSDocumentEntry.uniqueId (the ITI-43 DocumentUniqueId). */
  readonly uniqueId: string;
  /** The `repositoryUniqueId` slot, "" when absent. */
  readonly repositoryUniqueId: string;
  /** The `home` attribute (the community holding it), when sent. */
  readonly homeCommunityId?: string;
  /** XDSDocumentEntry.patientId, "" when absent. */
  readonly patientId: string;
  /** The `sourcePatientId` slot, when sent. */
  readonly sourcePatientId?: string;
  /** The `mimeType` attribute, "" when absent. */
  readonly mimeType: string;
  /** The `status` attribute (an availability status URN), "" when absent. */
  readonly status: string;
  /** The `objectType` attribute (stable or on-demand entry), "" when absent. */
  readonly objectType: string;
  /** The `rim:Name` text, when sent. */
  readonly title?: string;
  /** The `creationTime` slot (DTM), when sent. */
  readonly creationTime?: string;
  /** The `serviceStartTime` slot (DTM), when sent. */
  readonly serviceStartTime?: string;
  /** The `serviceStopTime` slot (DTM), when sent. */
  readonly serviceStopTime?: string;
  /** The `size` slot in bytes, when sent as a number. */
  readonly size?: number;
  /** The `hash` slot (SHA-1, hex), when sent. */
  readonly hash?: string;
  /** The formatCode Classification, when sent. */
  readonly formatCode?: XdsCode;
  /** The classCode Classification, when sent. */
  readonly classCode?: XdsCode;
  /** The typeCode Classification, when sent. */
  readonly typeCode?: XdsCode;
}

/**
 * A parsed AdhocQueryResponse that is not a Failure.
 *
 * @example Keep the warnings of a partial answer
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type FindDocumentsResponse,
 *   parseFindDocumentsResponse,
 * } from "./iti18.ts";
 *
 * const xml = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
 * <q:AdhocQueryResponse xmlns:q="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
 *   xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
 *   status="urn:ihe:iti:2007:ResponseStatusType:PartialSuccess">
 *   <rs:RegistryErrorList><rs:RegistryError errorCode="XDSUnavailableCommunity"
 *     codeContext="Community down" location="urn:oid:1.2.3"
 *     severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/></rs:RegistryErrorList>
 *   <RegistryObjectList xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"/>
 * </q:AdhocQueryResponse></s:Body></s:Envelope>`;
 * const response: FindDocumentsResponse = parseFindDocumentsResponse(
 *   new TextEncoder().encode(xml),
 * );
 * assert.equal(response.status, "PartialSuccess");
 * assert.equal(response.errors[0]?.location, "urn:oid:1.2.3");
 * ```
 */
export interface FindDocumentsResponse {
  /** "Success" or "PartialSuccess" (a Failure is thrown). */
  readonly status: Exclude<RetrieveStatus, "Failure">;
  /** The DocumentEntries, in the registry's order. */
  readonly documents: readonly DocumentEntry[];
  /** The RegistryErrors and warnings the registry sent with them. */
  readonly errors: readonly RegistryError[];
}

/**
 * Options of {@linkcode parseFindDocumentsResponse}.
 *
 * @example Name the registry in errors
 * ```ts
 * import type { ParseFindDocumentsResponseOptions } from "./iti18.ts";
 *
 * const options: ParseFindDocumentsResponseOptions = {
 *   httpStatus: 200,
 *   what: "ITI-18 query to https://registry.example/xds",
 * };
 * void options;
 * ```
 */
export interface ParseFindDocumentsResponseOptions {
  /**
   * The HTTP status that carried the answer, kept in a Fault.
   *
   * @default {200}
   */
  readonly httpStatus?: number;
  /**
   * What the query was, for messages.
   *
   * @default {"ITI-18 query"}
   */
  readonly what?: string;
}

/** The values of a `rim:Slot` with this name. */
function slotValues(element: XmlElement, name: string): string[] {
  for (const slot of childrenNamed(element, RIM_NS, "Slot")) {
    if (slot.attrs["name"] !== name) continue;
    const list = child(slot, RIM_NS, "ValueList");
    return list
      ? childrenNamed(list, RIM_NS, "Value").map((v) => v.text.trim())
      : [];
  }
  return [];
}

/** The first value of a slot, when there is a non-empty one. */
function slotValue(element: XmlElement, name: string): string | undefined {
  const value = slotValues(element, name)[0];
  return value === undefined || value === "" ? undefined : value;
}

/** The `value` of the first `rim:LocalizedString` of a `rim:Name`. */
function nameOf(element: XmlElement): string | undefined {
  const name = child(element, RIM_NS, "Name");
  const localized = name && child(name, RIM_NS, "LocalizedString");
  const value = localized?.attrs["value"];
  return value === undefined || value === "" ? undefined : value;
}

/** The ExternalIdentifier value of a scheme. */
function externalId(element: XmlElement, scheme: string): string {
  for (const id of childrenNamed(element, RIM_NS, "ExternalIdentifier")) {
    if (id.attrs["identificationScheme"] === scheme) {
      return id.attrs["value"]?.trim() ?? "";
    }
  }
  return "";
}

/** The code of a Classification scheme. */
function codeOf(element: XmlElement, scheme: string): XdsCode | undefined {
  for (const c of childrenNamed(element, RIM_NS, "Classification")) {
    if (c.attrs["classificationScheme"] !== scheme) continue;
    const displayName = nameOf(c);
    return {
      code: c.attrs["nodeRepresentation"]?.trim() ?? "",
      scheme: slotValue(c, "codingScheme") ?? "",
      ...(displayName !== undefined ? { displayName } : {}),
    };
  }
  return undefined;
}

/** Reads one `rim:ExtrinsicObject`. */
function documentEntry(
  element: XmlElement,
  index: number,
  excerpt: string,
): DocumentEntry {
  const entryUuid = element.attrs["id"]?.trim() ?? "";
  const uniqueId = externalId(element, UNIQUE_ID_SCHEME);
  if (uniqueId === "") {
    throw new Rad69ProtocolError(
      `Cannot parse the AdhocQueryResponse: ExtrinsicObject ${index + 1}${
        entryUuid ? ` ("${entryUuid}")` : ""
      } has no XDSDocumentEntry.uniqueId ExternalIdentifier (${UNIQUE_ID_SCHEME})`,
      { excerpt },
    );
  }
  const optional: Record<string, unknown> = {};
  const keep = (key: string, value: unknown) => {
    if (value !== undefined) optional[key] = value;
  };
  const home = element.attrs["home"]?.trim();
  keep("homeCommunityId", home === "" ? undefined : home);
  keep("sourcePatientId", slotValue(element, "sourcePatientId"));
  keep("title", nameOf(element));
  for (const key of ["creationTime", "serviceStartTime", "serviceStopTime"]) {
    keep(key, slotValue(element, key));
  }
  const size = slotValue(element, "size");
  keep("size", size && /^[0-9]+$/.test(size) ? Number(size) : undefined);
  keep("hash", slotValue(element, "hash"));
  keep("formatCode", codeOf(element, FORMAT_CODE_SCHEME));
  keep("classCode", codeOf(element, CLASS_CODE_SCHEME));
  keep("typeCode", codeOf(element, TYPE_CODE_SCHEME));
  return {
    entryUuid,
    uniqueId,
    repositoryUniqueId: slotValue(element, "repositoryUniqueId") ?? "",
    patientId: externalId(element, PATIENT_ID_SCHEME),
    mimeType: element.attrs["mimeType"]?.trim() ?? "",
    status: element.attrs["status"]?.trim() ?? "",
    objectType: element.attrs["objectType"]?.trim() ?? "",
    ...optional,
  };
}

/** The typed error of a Failure answer. */
function failure(
  errors: readonly RegistryError[],
  what: string,
): RegistryQueryError {
  const first = errors.find((e) => !e.isWarning) ?? errors[0];
  const tooMany = errors.find((e) => e.code === "XDSTooManyResults");
  const main = tooMany ?? first;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  const detail = main
    ? `${main.code || "(no code)"}${main.context ? `: ${main.context}` : ""}${
      main.location ? ` (location "${main.location}")` : ""
    }${more}`
    : "no RegistryError given";
  const options = {
    code: main?.code ?? "",
    context: main?.context ?? "",
    location: main?.location ?? "",
    severity: main?.severity ?? "",
    errors,
    status: "Failure",
  };
  const message = `The ${what} failed: ${detail}`;
  return tooMany
    ? new XDSTooManyResultsError(message, options)
    : new RegistryQueryError(message, options);
}

/**
 * Parses the SOAP answer of an ITI-18 (or ITI-38) FindDocuments query.
 * Success and PartialSuccess give the DocumentEntries with every
 * RegistryError and warning sent; Failure throws.
 *
 * @param xml The SOAP envelope, as UTF-8 bytes (or text).
 * @param options The HTTP status and what the query was, for messages.
 * @returns The status, the DocumentEntries and the RegistryErrors.
 * @throws {XDSTooManyResultsError} On a Failure with `XDSTooManyResults`.
 * @throws {RegistryQueryError} On any other Failure.
 * @throws {SoapFaultError} When the Body holds a SOAP Fault.
 * @throws {Rad69ProtocolError} When the answer is not an
 * AdhocQueryResponse, its status is unknown, it holds ObjectRefs instead
 * of the asked-for LeafClass objects, or an entry has no uniqueId.
 *
 * @example Read a registry's answer
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFindDocumentsResponse } from "./iti18.ts";
 *
 * const xml = `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>
 * <query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
 *   xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
 *   status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success">
 *  <rim:RegistryObjectList>
 *   <rim:ExtrinsicObject id="urn:uuid:0b7a0f7e-6d8e-4f53-9e1f-6c1c6a0e1f01"
 *     mimeType="application/dicom" home="urn:oid:1.2.3.99"
 *     status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved">
 *    <rim:Slot name="repositoryUniqueId"><rim:ValueList>
 *      <rim:Value>1.2.3.4.5</rim:Value></rim:ValueList></rim:Slot>
 *    <rim:ExternalIdentifier identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
 *      value="1.2.3.4.100"/>
 *   </rim:ExtrinsicObject>
 *  </rim:RegistryObjectList>
 * </query:AdhocQueryResponse></S:Body></S:Envelope>`;
 * const { documents } = parseFindDocumentsResponse(xml);
 * assert.equal(documents[0]?.uniqueId, "1.2.3.4.100");
 * assert.equal(documents[0]?.repositoryUniqueId, "1.2.3.4.5");
 * assert.equal(documents[0]?.homeCommunityId, "urn:oid:1.2.3.99");
 * ```
 */
export function parseFindDocumentsResponse(
  xml: Uint8Array | string,
  options: ParseFindDocumentsResponseOptions = {},
): FindDocumentsResponse {
  const what = options.what ?? "ITI-18 query";
  const { excerpt, body } = readSoapBody(xml, options.httpStatus ?? 200);
  const response = bodyElement(
    body,
    QUERY_NS,
    "AdhocQueryResponse",
    "query",
    excerpt,
  );
  const { status, errors } = readRegistryStatus(
    response,
    "AdhocQueryResponse",
    excerpt,
  );
  if (status === "Failure") throw failure(errors, what);
  const documents: DocumentEntry[] = [];
  const list = child(response, RIM_NS, "RegistryObjectList");
  let objectRefs = 0;
  for (const e of list?.children ?? []) {
    if (e.ns !== RIM_NS) continue;
    if (e.local === "ExtrinsicObject") {
      documents.push(documentEntry(e, documents.length, excerpt));
    } else if (e.local === "ObjectRef") {
      objectRefs++;
    }
  }
  if (objectRefs > 0 && documents.length === 0) {
    throw new Rad69ProtocolError(
      `Cannot parse the AdhocQueryResponse: the registry answered ${objectRefs} ObjectRef(s) where LeafClass objects (ExtrinsicObjects) were asked for`,
      { excerpt },
    );
  }
  return { status, documents, errors };
}
