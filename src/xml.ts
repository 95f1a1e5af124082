/**
 * The one XML reader of the package: a small, strict, namespace-aware,
 * non-validating parser for SOAP messages (answers the client reads and
 * requests the fake servers check). Prefixes are resolved through `xmlns`
 * declarations, so elements are matched by namespace URI and local name,
 * whatever prefix a peer binds. Only the five predefined entities and
 * character references are decoded; any `<!DOCTYPE` is rejected, so no
 * entity is ever expanded. Memory is bounded by caps on elements and on
 * nodes (elements, attributes, comments, processing instructions, CDATA
 * sections and references), as well as by the caller's byte cap: whatever a
 * document is made of, the tree stays a small multiple of its bytes, and a
 * document over a cap fails as soon as the cap is passed.
 *
 * @module
 */

import { LimitExceededError, Rad69ProtocolError } from "./errors.ts";
import { cutText } from "./redact.ts";

/** How many characters of the document go into an error's `excerpt`. */
const EXCERPT_LENGTH = 300;

/**
 * The default cap on elements in one document: 262,144 elements is about
 * 40,000 DocumentResponses, and keeps a hostile root of tiny elements at a
 * few tens of MiB of heap.
 */
export const DEFAULT_MAX_XML_ELEMENTS = 262_144;

/**
 * The default cap on nodes in one document: elements, attributes, comments,
 * processing instructions, CDATA sections and entity or character
 * references each count as one. Twice the element cap: a legitimate SOAP
 * root has about one attribute per element and few references, while a
 * hostile one of millions of tiny attributes, comments or `&amp;`s would
 * otherwise cost about a hundred bytes of heap per few bytes of input.
 */
export const DEFAULT_MAX_XML_NODES = 2 * DEFAULT_MAX_XML_ELEMENTS;

/** Options of {@linkcode parseXml}. */
export interface ParseXmlOptions {
  /** What the document is, for error messages ("SOAP response"). */
  what?: string;
  /**
   * Most elements accepted; more is a `LimitExceededError`
   * (`limit: "maxXmlElements"`).
   *
   * @default {262144}
   */
  maxElements?: number;
  /**
   * Most nodes accepted (elements, attributes, comments, processing
   * instructions, CDATA sections, references); more is a
   * `LimitExceededError` (`limit: "maxXmlNodes"`).
   *
   * @default {524288}
   */
  maxNodes?: number;
}

const XML_NS = "http://www.w3.org/XML/1998/namespace";

/** Deepest element nesting accepted. */
const MAX_DEPTH = 512;

/** An element of the parsed tree. */
export interface XmlElement {
  /** Namespace URI, "" for none. */
  readonly ns: string;
  /** Local name. */
  readonly local: string;
  /** Qualified name as written. */
  readonly name: string;
  /** Unprefixed attributes by name; prefixed ones as `{ns}local`. */
  readonly attrs: Record<string, string>;
  /** Child elements, in document order. */
  readonly children: XmlElement[];
  /** Concatenated character data of the direct children (text and CDATA). */
  text: string;
}

/** A namespace scope: prefix ("" = default) to URI, inheriting by prototype. */
type NsScope = Record<string, string>;

const NAME = "[A-Za-z_\\u00C0-\\uFFFF][-A-Za-z0-9_.\\u00B7\\u00C0-\\uFFFF]*";
const QNAME = `${NAME}(?::${NAME})?`;
const QNAME_RE = new RegExp(QNAME, "y");
const ATTR_RE = new RegExp(
  `[ \\t\\r\\n]+(${QNAME})[ \\t\\r\\n]*=[ \\t\\r\\n]*(?:"([^"<]*)"|'([^'<]*)')`,
  "y",
);
const TAG_END_RE = /[ \t\r\n]*(\/?)>/y;
const END_TAG_TAIL_RE = /[ \t\r\n]*>/y;
const WHITESPACE_ONLY = /^[ \t\r\n]*$/;
const REFERENCE_RE =
  /&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z_:][-A-Za-z0-9_.:]*)?(;)?/y;
const PREDEFINED: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Makes the error every XML problem is reported with. */
function xmlError(
  text: string,
  detail: string,
  offset: number,
  what = "XML",
): Error {
  return new Rad69ProtocolError(
    `Cannot parse ${what}: ${detail} (at character ${offset})`,
    { excerpt: cutText(text, EXCERPT_LENGTH) },
  );
}

/** Counts the nodes of one document against its cap. */
class NodeBudget {
  #left: number;
  readonly #max: number;
  readonly #what: string;

  constructor(max: number, what: string) {
    this.#left = max;
    this.#max = max;
    this.#what = what;
  }

  /** Counts one node found at `offset`; throws once over the cap. */
  take(offset: number): void {
    if (--this.#left < 0) {
      throw new LimitExceededError(
        "maxXmlNodes",
        this.#max,
        `The ${this.#what} (at character ${offset})`,
      );
    }
  }
}

/**
 * Decodes the predefined entities and character references of a value,
 * one reference at a time (each counted as it is met, so that a value of
 * millions of references fails at the cap without collecting them first).
 */
function decodeReferences(
  value: string,
  text: string,
  offset: number,
  what: string,
  budget: NodeBudget,
): string {
  let amp = value.indexOf("&");
  if (amp === -1) return value;
  const pieces: string[] = [];
  let from = 0;
  while (amp !== -1) {
    budget.take(offset);
    REFERENCE_RE.lastIndex = amp;
    const match = REFERENCE_RE.exec(value)!;
    const [whole, ref, semi] = match;
    if (ref === undefined || semi === undefined) {
      throw xmlError(text, `stray "&" in "${whole}"`, offset, what);
    }
    pieces.push(
      value.slice(from, amp),
      decodeReference(ref, text, offset, what),
    );
    from = amp + whole.length;
    amp = value.indexOf("&", from);
  }
  pieces.push(value.slice(from));
  return pieces.join("");
}

/** The text of one reference (`#38`, `#x26`, `amp`…), checked. */
function decodeReference(
  ref: string,
  text: string,
  offset: number,
  what: string,
): string {
  if (ref.charCodeAt(0) === 0x23 /* # */) {
    const code = ref.charCodeAt(1) === 0x78 /* x */
      ? parseInt(ref.slice(2), 16)
      : parseInt(ref.slice(1), 10);
    const ok = code === 0x9 || code === 0xa || code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      (code >= 0x10000 && code <= 0x10ffff);
    if (!ok) {
      throw xmlError(
        text,
        `invalid character reference "&${ref};"`,
        offset,
        what,
      );
    }
    return String.fromCodePoint(code);
  }
  const decoded = PREDEFINED[ref];
  if (decoded === undefined) {
    throw xmlError(
      text,
      `undefined entity "&${ref};" (entities are not expanded)`,
      offset,
      what,
    );
  }
  return decoded;
}

/** Splits a qualified name into prefix ("" for none) and local name. */
function splitName(qname: string): [string, string] {
  const colon = qname.indexOf(":");
  return colon === -1
    ? ["", qname]
    : [qname.slice(0, colon), qname.slice(colon + 1)];
}

/**
 * Parses a whole document into its root element.
 *
 * @param text The document.
 * @param options What it is (for messages) and the element cap.
 * @returns The root element.
 * @throws {Rad69ProtocolError} When the document is not well formed, holds
 * a DOCTYPE, uses an undeclared prefix or nests deeper than 512.
 * @throws {LimitExceededError} When it holds more elements or nodes than
 * the caps (`limit` is `"maxXmlElements"` or `"maxXmlNodes"`), as soon as
 * the cap is passed.
 *
 * @example Parse a document, and refuse one of too many nodes
 * ```ts
 * import assert from "node:assert/strict";
 * import { LimitExceededError } from "@rad69/client";
 * import { parseXml } from "./xml.ts";
 *
 * const root = parseXml('<a xmlns="urn:x"><b c="1">t&amp;t</b></a>');
 * assert.equal(root.children[0]!.text, "t&t");
 * assert.throws(
 *   () => parseXml(`<a>${"<!---->".repeat(100)}</a>`, { maxNodes: 50 }),
 *   (e) => e instanceof LimitExceededError && e.limit === "maxXmlNodes",
 * );
 * ```
 */
export function parseXml(text: string, options?: ParseXmlOptions): XmlElement {
  return new XmlParser(text, options).parse();
}

/** The state of one parse: a cursor over the text and the open elements. */
class XmlParser {
  readonly #text: string;
  readonly #what: string;
  readonly #maxElements: number;
  readonly #budget: NodeBudget;
  readonly #stack: XmlElement[] = [];
  readonly #scopes: NsScope[];
  #elements = 0;
  #root: XmlElement | undefined;

  constructor(text: string, options: ParseXmlOptions | undefined) {
    this.#text = text;
    this.#what = options?.what ?? "XML";
    this.#maxElements = options?.maxElements ?? DEFAULT_MAX_XML_ELEMENTS;
    this.#budget = new NodeBudget(
      options?.maxNodes ?? DEFAULT_MAX_XML_NODES,
      this.#what,
    );
    const base: NsScope = Object.create(null);
    base[""] = "";
    base["xml"] = XML_NS;
    this.#scopes = [base];
  }

  /** The error of a malformed document at `offset`. */
  #fail(detail: string, offset: number): Error {
    return xmlError(this.#text, detail, offset, this.#what);
  }

  /** Parses the whole text; returns the root element. */
  parse(): XmlElement {
    const text = this.#text;
    const length = text.length;
    const stack = this.#stack;
    let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    while (pos < length) {
      const lt = text.indexOf("<", pos);
      const end = lt === -1 ? length : lt;
      if (end > pos) {
        const raw = text.slice(pos, end);
        const top = stack[stack.length - 1];
        if (top) {
          top.text += decodeReferences(
            raw,
            text,
            pos,
            this.#what,
            this.#budget,
          );
        } else if (!WHITESPACE_ONLY.test(raw)) {
          throw this.#fail("text outside the root element", pos);
        }
      }
      if (lt === -1) break;
      const next = text.charCodeAt(lt + 1);
      pos = next === 0x2f /* / */
        ? this.#endTag(lt)
        : next === 0x3f /* ? */
        ? this.#instruction(lt)
        : next === 0x21 /* ! */
        ? this.#declaration(lt)
        : this.#startTag(lt);
    }
    const open = stack[stack.length - 1];
    if (open) throw this.#fail(`unclosed element "<${open.name}>"`, length);
    if (!this.#root) throw this.#fail("no root element", length);
    return this.#root;
  }

  /** Reads `</name>` at `lt`; returns the position after it. */
  #endTag(lt: number): number {
    const text = this.#text;
    QNAME_RE.lastIndex = lt + 2;
    const match = QNAME_RE.exec(text);
    const top = this.#stack[this.#stack.length - 1];
    if (!match || !top || match[0] !== top.name) {
      throw this.#fail(
        top ? `expected "</${top.name}>"` : "end tag without a start tag",
        lt,
      );
    }
    END_TAG_TAIL_RE.lastIndex = QNAME_RE.lastIndex;
    if (!END_TAG_TAIL_RE.test(text)) {
      throw this.#fail(`malformed end tag "</${top.name}"`, lt);
    }
    this.#stack.pop();
    this.#scopes.pop();
    return END_TAG_TAIL_RE.lastIndex;
  }

  /** Skips a processing instruction at `lt`. */
  #instruction(lt: number): number {
    this.#budget.take(lt);
    const close = this.#text.indexOf("?>", lt + 2);
    if (close === -1) {
      throw this.#fail("unterminated processing instruction", lt);
    }
    return close + 2;
  }

  /** Reads a comment or CDATA section at `lt`; refuses a DOCTYPE. */
  #declaration(lt: number): number {
    const text = this.#text;
    this.#budget.take(lt);
    if (text.startsWith("<!--", lt)) {
      const close = text.indexOf("-->", lt + 4);
      if (close === -1) throw this.#fail("unterminated comment", lt);
      return close + 3;
    }
    if (text.startsWith("<![CDATA[", lt)) {
      const close = text.indexOf("]]>", lt + 9);
      const top = this.#stack[this.#stack.length - 1];
      if (close === -1) throw this.#fail("unterminated CDATA section", lt);
      if (!top) throw this.#fail("CDATA outside the root element", lt);
      top.text += text.slice(lt + 9, close);
      return close + 3;
    }
    if (text.startsWith("<!DOCTYPE", lt)) {
      throw this.#fail(
        "a DOCTYPE is not allowed in a SOAP message (DTDs and entities are not processed)",
        lt,
      );
    }
    throw this.#fail("unexpected markup declaration", lt);
  }

  /** Reads a start tag at `lt`; returns the position after it. */
  #startTag(lt: number): number {
    const text = this.#text;
    this.#budget.take(lt);
    if (++this.#elements > this.#maxElements) {
      throw new LimitExceededError(
        "maxXmlElements",
        this.#maxElements,
        `The ${this.#what} (at character ${lt})`,
      );
    }
    QNAME_RE.lastIndex = lt + 1;
    const nameMatch = QNAME_RE.exec(text);
    if (!nameMatch) throw this.#fail('invalid element name after "<"', lt);
    const name = nameMatch[0];
    const { rawAttrs, scope, cursor } = this.#attributes(
      lt,
      QNAME_RE.lastIndex,
    );
    TAG_END_RE.lastIndex = cursor;
    const tagEnd = TAG_END_RE.exec(text);
    if (!tagEnd) throw this.#fail(`malformed start tag "<${name}"`, lt);
    const [prefix, local] = splitName(name);
    const ns = scope[prefix];
    if (ns === undefined) {
      throw this.#fail(`undeclared namespace prefix "${prefix}"`, lt);
    }
    const element: XmlElement = {
      ns,
      local,
      name,
      attrs: this.#resolveAttributes(rawAttrs, scope, lt),
      children: [],
      text: "",
    };
    const stack = this.#stack;
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.children.push(element);
    } else if (this.#root) {
      throw this.#fail("more than one root element", lt);
    } else {
      this.#root = element;
    }
    if (tagEnd[1] !== "/") {
      if (stack.length >= MAX_DEPTH) {
        throw this.#fail(`elements nested deeper than ${MAX_DEPTH}`, lt);
      }
      stack.push(element);
      this.#scopes.push(scope);
    }
    return TAG_END_RE.lastIndex;
  }

  /**
   * Reads the attributes of a start tag from `cursor`: namespace
   * declarations open a scope, the others are returned as written.
   */
  #attributes(lt: number, cursor: number) {
    const text = this.#text;
    const rawAttrs: [string, string][] = [];
    let scope = this.#scopes[this.#scopes.length - 1]!;
    let ownScope = false;
    for (;;) {
      ATTR_RE.lastIndex = cursor;
      const attr = ATTR_RE.exec(text);
      if (!attr) break;
      cursor = ATTR_RE.lastIndex;
      this.#budget.take(cursor);
      const attrName = attr[1]!;
      const value = decodeReferences(
        (attr[2] ?? attr[3]!).replace(/[\t\n\r]/g, " "),
        text,
        cursor,
        this.#what,
        this.#budget,
      );
      if (attrName === "xmlns" || attrName.startsWith("xmlns:")) {
        if (!ownScope) {
          scope = Object.create(scope);
          ownScope = true;
        }
        const prefix = attrName === "xmlns" ? "" : attrName.slice(6);
        if (prefix !== "" && value === "") {
          throw this.#fail(`empty namespace for prefix "${prefix}"`, lt);
        }
        scope[prefix] = value;
      } else {
        rawAttrs.push([attrName, value]);
      }
    }
    return { rawAttrs, scope, cursor };
  }

  /** Keys the attributes by name, or `{ns}local` when prefixed. */
  #resolveAttributes(
    rawAttrs: readonly [string, string][],
    scope: NsScope,
    lt: number,
  ): Record<string, string> {
    const attrs: Record<string, string> = Object.create(null);
    for (const [attrName, value] of rawAttrs) {
      const [attrPrefix, attrLocal] = splitName(attrName);
      let key = attrLocal;
      if (attrPrefix !== "") {
        const attrNs = scope[attrPrefix];
        if (attrNs === undefined) {
          throw this.#fail(`undeclared namespace prefix "${attrPrefix}"`, lt);
        }
        key = `{${attrNs}}${attrLocal}`;
      }
      if (key in attrs) {
        throw this.#fail(`duplicate attribute "${attrName}"`, lt);
      }
      attrs[key] = value;
    }
    return attrs;
  }
}

/**
 * The first child with this namespace URI and local name.
 *
 * @param element The parent.
 * @param ns The namespace URI.
 * @param local The local name.
 * @returns The child, or `undefined`.
 */
export function child(
  element: XmlElement,
  ns: string,
  local: string,
): XmlElement | undefined {
  for (const c of element.children) {
    if (c.local === local && c.ns === ns) return c;
  }
  return undefined;
}

/**
 * The first child with this local name, whatever its namespace (for SOAP
 * Fault children, which stacks qualify differently).
 *
 * @param element The parent.
 * @param local The local name.
 * @returns The child, or `undefined`.
 */
export function childByLocal(
  element: XmlElement,
  local: string,
): XmlElement | undefined {
  for (const c of element.children) if (c.local === local) return c;
  return undefined;
}

/**
 * The first descendant (document order) that matches, searched iteratively.
 *
 * @param element Where to search.
 * @param test The predicate.
 * @returns The descendant, or `undefined`.
 */
export function descendant(
  element: XmlElement,
  test: (e: XmlElement) => boolean,
): XmlElement | undefined {
  const pending: XmlElement[] = [...element.children].reverse();
  while (pending.length > 0) {
    const e = pending.pop()!;
    if (test(e)) return e;
    for (let i = e.children.length - 1; i >= 0; i--) {
      pending.push(e.children[i]!);
    }
  }
  return undefined;
}

/**
 * Every child with this namespace URI and local name, in document order.
 *
 * @param element The parent.
 * @param ns The namespace URI.
 * @param local The local name.
 * @returns The children (maybe none).
 */
export function childrenNamed(
  element: XmlElement,
  ns: string,
  local: string,
): XmlElement[] {
  return element.children.filter((c) => c.local === local && c.ns === ns);
}

/**
 * Escapes text for XML character data and attribute values.
 *
 * @param text The text.
 * @returns The text with `<`, `>`, `&`, `"` and `'` escaped.
 */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Readonly<Record<string, string>> = {
  "<": "&lt;",
  ">": "&gt;",
  "&": "&amp;",
  '"': "&quot;",
  "'": "&apos;",
};
