/**
 * A minimal, strict, namespace-aware XML parser for the fake server's request
 * validation, and an escaper. Private to the testing module.
 *
 * @module
 */

/** A parsed element with resolved namespaces. */
export interface XmlElement {
  /** Namespace URI ("" when none). */
  ns: string;
  /** Local name. */
  local: string;
  /** Qualified name as written. */
  qname: string;
  /** Attributes: unprefixed by local name, prefixed as `{ns}local`. */
  attrs: Map<string, string>;
  /** Child elements and text, in document order. */
  children: (XmlElement | string)[];
}

/** A well-formedness error. */
export class XmlError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const NAME = /^[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?$/;

/** Decodes the predefined and numeric entities. */
function decodeEntities(text: string): string {
  return text.replace(/&([^;&]*);|&/g, (match, body: string | undefined) => {
    if (body === undefined) throw new XmlError("Bare '&' in text");
    switch (body) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    const m = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(body);
    if (!m) throw new XmlError(`Unknown entity "${match}"`);
    const code = m[1]!.startsWith("x")
      ? parseInt(m[1]!.slice(1), 16)
      : parseInt(m[1]!, 10);
    if (code > 0x10ffff) {
      throw new XmlError(`Bad character reference "${match}"`);
    }
    return String.fromCodePoint(code);
  });
}

/**
 * Parses a document; throws {@linkcode XmlError} when it is not well formed,
 * has a DOCTYPE, or uses an undeclared prefix.
 */
export function parseXml(source: string): XmlElement {
  let i = 0;
  if (source.charCodeAt(0) === 0xfeff) i = 1;
  const stack: { el: XmlElement; scope: Map<string, string> }[] = [];
  let root: XmlElement | undefined;
  let scope = new Map<string, string>([["xml", XML_NS]]);

  const skipMisc = (where: "prolog" | "epilog") => {
    while (i < source.length) {
      const ws = /^\s+/.exec(source.slice(i, i + 256));
      if (ws) {
        i += ws[0].length;
        continue;
      }
      if (source.startsWith("<!--", i)) {
        const end = source.indexOf("-->", i + 4);
        if (end < 0) throw new XmlError("Unterminated comment");
        i = end + 3;
        continue;
      }
      if (source.startsWith("<?", i)) {
        const end = source.indexOf("?>", i + 2);
        if (end < 0) throw new XmlError("Unterminated processing instruction");
        i = end + 2;
        continue;
      }
      if (source.startsWith("<!DOCTYPE", i)) {
        throw new XmlError("DOCTYPE is not allowed");
      }
      if (where === "epilog") {
        throw new XmlError(`Content after the root element at offset ${i}`);
      }
      return;
    }
  };

  skipMisc("prolog");
  if (source[i] !== "<") throw new XmlError("No root element");

  while (i < source.length) {
    if (stack.length === 0 && root) {
      skipMisc("epilog");
      break;
    }
    const c = source[i];
    if (c === "<") {
      if (source.startsWith("<!--", i)) {
        const end = source.indexOf("-->", i + 4);
        if (end < 0) throw new XmlError("Unterminated comment");
        i = end + 3;
      } else if (source.startsWith("<![CDATA[", i)) {
        const end = source.indexOf("]]>", i + 9);
        if (end < 0) throw new XmlError("Unterminated CDATA section");
        stack.at(-1)?.el.children.push(source.slice(i + 9, end));
        i = end + 3;
      } else if (source.startsWith("<?", i)) {
        const end = source.indexOf("?>", i + 2);
        if (end < 0) throw new XmlError("Unterminated processing instruction");
        i = end + 2;
      } else if (source.startsWith("<!", i)) {
        throw new XmlError(`Unexpected markup declaration at offset ${i}`);
      } else if (source[i + 1] === "/") {
        const end = source.indexOf(">", i);
        if (end < 0) throw new XmlError("Unterminated end tag");
        const name = source.slice(i + 2, end).trim();
        const top = stack.pop();
        if (!top || top.el.qname !== name) {
          throw new XmlError(
            `Mismatched end tag "${name}" (expected "${
              top?.el.qname ?? "nothing"
            }")`,
          );
        }
        scope = stack.at(-1)?.scope ?? new Map([["xml", XML_NS]]);
        i = end + 1;
      } else {
        // Start tag.
        const tagRe =
          /^<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/;
        const m = tagRe.exec(source.slice(i, i + 65536));
        if (!m) throw new XmlError(`Malformed start tag at offset ${i}`);
        const qname = m[1]!;
        if (!NAME.test(qname)) {
          throw new XmlError(`Bad element name "${qname}"`);
        }
        const rawAttrs: [string, string][] = [];
        const attrRe = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
        let am: RegExpExecArray | null;
        const seen = new Set<string>();
        while ((am = attrRe.exec(m[2]!))) {
          const name = am[1]!;
          if (!NAME.test(name)) {
            throw new XmlError(`Bad attribute name "${name}"`);
          }
          if (seen.has(name)) {
            throw new XmlError(`Duplicate attribute "${name}"`);
          }
          seen.add(name);
          const value = am[2] ?? am[3] ?? "";
          if (value.includes("<")) {
            throw new XmlError(`'<' in attribute "${name}"`);
          }
          rawAttrs.push([name, decodeEntities(value)]);
        }
        const newScope = new Map(scope);
        for (const [name, value] of rawAttrs) {
          if (name === "xmlns") newScope.set("", value);
          else if (name.startsWith("xmlns:")) {
            newScope.set(name.slice(6), value);
          }
        }
        const colon = qname.indexOf(":");
        const prefix = colon < 0 ? "" : qname.slice(0, colon);
        const local = colon < 0 ? qname : qname.slice(colon + 1);
        const ns = newScope.get(prefix);
        if (ns === undefined && prefix !== "") {
          throw new XmlError(`Undeclared prefix "${prefix}" on "${qname}"`);
        }
        const attrs = new Map<string, string>();
        for (const [name, value] of rawAttrs) {
          if (name === "xmlns" || name.startsWith("xmlns:")) continue;
          const ac = name.indexOf(":");
          if (ac < 0) {
            attrs.set(name, value);
          } else {
            const ans = newScope.get(name.slice(0, ac));
            if (ans === undefined) {
              throw new XmlError(`Undeclared prefix on attribute "${name}"`);
            }
            attrs.set(`{${ans}}${name.slice(ac + 1)}`, value);
          }
        }
        const el: XmlElement = {
          ns: ns ?? "",
          local,
          qname,
          attrs,
          children: [],
        };
        if (stack.length === 0) {
          if (root) throw new XmlError("More than one root element");
          root = el;
        } else {
          stack.at(-1)!.el.children.push(el);
        }
        i += m[0].length;
        if (m[3] !== "/") {
          stack.push({ el, scope: newScope });
          scope = newScope;
        }
      }
    } else {
      const end = source.indexOf("<", i);
      const raw = source.slice(i, end < 0 ? source.length : end);
      if (stack.length === 0) {
        if (raw.trim() !== "") throw new XmlError("Text outside the root");
      } else {
        if (raw.includes("]]>")) throw new XmlError("']]>' in text");
        stack.at(-1)!.el.children.push(decodeEntities(raw));
      }
      i = end < 0 ? source.length : end;
    }
  }
  if (stack.length > 0) {
    throw new XmlError(`Unclosed element "${stack.at(-1)!.el.qname}"`);
  }
  if (!root) throw new XmlError("No root element");
  return root;
}

/** The element children of an element. */
export function elements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== "string");
}

/** The concatenated text children of an element. */
export function textOf(el: XmlElement): string {
  return el.children.filter((c): c is string => typeof c === "string").join(
    "",
  );
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) =>
      c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === "&"
        ? "&amp;"
        : c === '"'
        ? "&quot;"
        : "&apos;",
  );
}
