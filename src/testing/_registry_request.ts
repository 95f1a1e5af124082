/**
 * Reading of ITI-18 / ITI-38 `query:AdhocQueryRequest` bodies and of ebRS
 * slot values for the fake registry. Private to the testing module.
 *
 * @module
 */

import type { XmlElement } from "../xml.ts";
import { attribute, expect, noText, RequestFault } from "./_request.ts";

export const QUERY_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
export const RIM_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
export const RS_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";

/** An AdhocQueryRequest, as far as the Body goes. */
export interface ParsedQuery {
  /** `ResponseOption/@returnType`. */
  returnType: string;
  /** `AdhocQuery/@id`. */
  queryId: string;
  /** `AdhocQuery/@home`, when sent. */
  home?: string;
  /** Slot name to its raw `rim:Value` texts (slots of one name merged). */
  slots: Record<string, string[]>;
}

/**
 * Reads the Body element of a stored query. Structural errors are a
 * {@linkcode RequestFault} (a SOAP Fault); what a registry answers with a
 * RegistryError is left to the caller.
 */
export function readAdhocQuery(
  body: XmlElement,
  partial: Partial<ParsedQuery>,
): ParsedQuery {
  expect(body, QUERY_NS, "AdhocQueryRequest", "soap:Body");
  noText(body, "AdhocQueryRequest");
  let option: XmlElement | undefined;
  let query: XmlElement | undefined;
  for (const c of body.children) {
    if (c.ns === QUERY_NS && c.local === "ResponseOption" && !option) {
      option = c;
    } else if (c.ns === RIM_NS && c.local === "AdhocQuery" && !query) {
      query = c;
    } else {
      throw new RequestFault(
        `Unexpected {${c.ns}}${c.local} in AdhocQueryRequest`,
      );
    }
  }
  if (!option) {
    throw new RequestFault("AdhocQueryRequest has no query:ResponseOption");
  }
  if (!query) throw new RequestFault("AdhocQueryRequest has no rim:AdhocQuery");
  const returnType = option.attrs["returnType"] ?? "ObjectRef";
  if (returnType !== "LeafClass" && returnType !== "ObjectRef") {
    throw new RequestFault(
      `ResponseOption returnType "${returnType}" (expected "LeafClass" or "ObjectRef")`,
    );
  }
  partial.returnType = returnType;
  const queryId = attribute(query, "id", "rim:AdhocQuery");
  partial.queryId = queryId;
  const home = query.attrs["home"];
  if (home !== undefined) partial.home = home;
  const slots: Record<string, string[]> = Object.create(null);
  partial.slots = slots;
  for (const slot of query.children) {
    expect(slot, RIM_NS, "Slot", "rim:AdhocQuery");
    const name = attribute(slot, "name", "rim:Slot");
    const list = slot.children[0];
    if (!list || slot.children.length !== 1) {
      throw new RequestFault(`Slot "${name}" must hold one rim:ValueList`);
    }
    expect(list, RIM_NS, "ValueList", `slot "${name}"`);
    const values = (slots[name] ??= []);
    for (const value of list.children) {
      expect(value, RIM_NS, "Value", `slot "${name}"`);
      values.push(value.text);
    }
    if (list.children.length === 0) {
      throw new RequestFault(`Slot "${name}" has no rim:Value`);
    }
  }
  return {
    returnType,
    queryId,
    ...(home !== undefined ? { home } : {}),
    slots,
  };
}

/** A slot value that does not follow the ebRS quoting. */
export class SlotSyntaxError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SlotSyntaxError";
  }
}

/**
 * Decodes one `rim:Value`: `'a'`, `('a','b')` (a quote inside doubled), or
 * an unquoted number (time parameters). Throws a {@linkcode SlotSyntaxError}
 * naming the problem.
 */
export function decodeSlotValue(raw: string): string[] {
  let text = raw.trim();
  const list = text.startsWith("(");
  if (list) {
    if (!text.endsWith(")")) {
      throw new SlotSyntaxError(`list value ${JSON.stringify(raw)} has no ")"`);
    }
    text = text.slice(1, -1).trim();
  }
  if (!text.startsWith("'")) {
    if (/^[0-9]+$/.test(text)) return [text];
    throw new SlotSyntaxError(
      `value ${JSON.stringify(raw)} is neither quoted nor a number`,
    );
  }
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== "'") {
      throw new SlotSyntaxError(
        `value ${JSON.stringify(raw)}: expected a quote at ${i}`,
      );
    }
    let value = "";
    i++;
    for (;;) {
      if (i >= text.length) {
        throw new SlotSyntaxError(`value ${JSON.stringify(raw)} is unclosed`);
      }
      if (text[i] === "'") {
        if (text[i + 1] === "'") {
          value += "'";
          i += 2;
          continue;
        }
        i++;
        break;
      }
      value += text[i++];
    }
    out.push(value);
    while (text[i] === " ") i++;
    if (i >= text.length) break;
    if (!list || text[i] !== ",") {
      throw new SlotSyntaxError(
        `value ${JSON.stringify(raw)}: unexpected "${text[i]}" at ${i}`,
      );
    }
    i++;
    while (text[i] === " ") i++;
  }
  return out;
}
