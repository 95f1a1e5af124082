/**
 * SOAP envelopes and MIME framing of the fake server's answers, per dialect.
 * Private to the testing module.
 *
 * @module
 */

import type { FakeDialect, FakeSoapFault, FaultPlan } from "./_types.ts";
import { escapeXml } from "../xml.ts";
import { base64Chunks } from "./_stream.ts";
import { SOAP12_NS, WSA_NS, WSSE_NS } from "./_request.ts";

export const RESPONSE_ACTION = "urn:ihe:iti:2007:RetrieveDocumentSetResponse";
const RS_NS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
const XDSB_NS = "urn:ihe:iti:xds-b:2007";
const XOP_NS = "http://www.w3.org/2004/08/xop/include";
const ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous";

/** Status URNs. */
export const STATUS_URNS = {
  Success: "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success",
  PartialSuccess: "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess",
  Failure: "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure",
} as const;

const SEVERITY_PREFIX = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:";

/** A body: bytes or lazily produced chunks. */
export type Body = () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** A resolved RegistryError. */
export interface ModelError {
  code: string;
  context: string;
  location: string;
  severity: string;
}

/** A delivered document. */
export interface ModelDocument {
  documentUniqueId: string;
  repositoryUniqueId: string;
  homeCommunityId?: string;
  body: Body;
}

/** Everything an answer says. */
export interface ResponseModel {
  statusUrn: string;
  errors: ModelError[];
  documents: ModelDocument[];
  relatesTo?: string;
}

/** An answer ready to be streamed. */
export interface FramedResponse {
  status: number;
  contentType: string | null;
  chunks: AsyncIterable<Uint8Array>;
}

const enc = new TextEncoder();

/** Normalises a severity to its URN. */
export function severityUrn(severity: string | undefined): string {
  if (!severity || severity === "Error") return SEVERITY_PREFIX + "Error";
  if (severity === "Warning") return SEVERITY_PREFIX + "Warning";
  return severity;
}

/** WS-Addressing response headers. */
export function addressing(prefix: string, action: string, relatesTo?: string) {
  const wsa = (name: string, value: string) =>
    `<${name} xmlns="${WSA_NS}">${escapeXml(value)}</${name}>`;
  return `<${prefix}:Header>${wsa("Action", action)}${
    wsa("MessageID", `urn:uuid:${crypto.randomUUID()}`)
  }${wsa("To", ANONYMOUS)}${
    relatesTo ? wsa("RelatesTo", relatesTo) : ""
  }</${prefix}:Header>`;
}

/** Builds a SOAP 1.2 Fault envelope. */
export function faultEnvelope(
  fault: FakeSoapFault,
  relatesTo?: string,
): string {
  const code = fault.code ?? "Receiver";
  let subcode = "";
  if (fault.subcode) {
    const colon = fault.subcode.indexOf(":");
    const prefix = colon < 0 ? "" : fault.subcode.slice(0, colon);
    const ns = prefix === "wsa"
      ? WSA_NS
      : prefix === "wsse"
      ? WSSE_NS
      : prefix === "env"
      ? SOAP12_NS
      : "urn:rad69:fake";
    const decl = prefix && prefix !== "env"
      ? ` xmlns:${prefix}="${ns}"`
      : prefix
      ? ""
      : ` xmlns="${ns}"`;
    subcode = `<env:Subcode><env:Value${decl}>${
      escapeXml(fault.subcode)
    }</env:Value></env:Subcode>`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="${SOAP12_NS}">${
    addressing("env", "http://www.w3.org/2005/08/addressing/fault", relatesTo)
  }<env:Body><env:Fault><env:Code><env:Value>env:${code}</env:Value>${subcode}</env:Code><env:Reason><env:Text xml:lang="en">${
    escapeXml(fault.reason ?? "Fake server fault")
  }</env:Text></env:Reason>${
    fault.detail !== undefined
      ? `<env:Detail><detail xmlns="urn:rad69:fake">${
        escapeXml(fault.detail)
      }</detail></env:Detail>`
      : ""
  }</env:Fault></env:Body></env:Envelope>`;
}

/** XML flavour: CXF writes default-namespace rs + ns2 for xds-b. */
interface XmlStyle {
  env: string;
  rs: string; // prefix with colon, or ""
  xdsb: string;
  decl: string;
}

function styleFor(dialect: FakeDialect): XmlStyle {
  switch (dialect) {
    case "cxf":
      return {
        env: "soap",
        rs: "",
        xdsb: "ns2:",
        decl: ` xmlns="${RS_NS}" xmlns:ns2="${XDSB_NS}"`,
      };
    case "wcf":
      return {
        env: "s",
        rs: "",
        xdsb: "",
        decl: ` xmlns="${XDSB_NS}"`,
      };
    default:
      return {
        env: dialect === "axis2" ? "soapenv" : "S",
        rs: "rs:",
        xdsb: "xdsb:",
        decl: ` xmlns:xdsb="${XDSB_NS}" xmlns:rs="${RS_NS}"`,
      };
  }
}

/** The SOAP root, as chunks; `documentXml` renders each Document's content. */
async function* soapRoot(
  dialect: FakeDialect,
  model: ResponseModel,
  padding: number,
  document: (doc: ModelDocument, index: number) => AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const s = styleFor(dialect);
  const rsNsAttr = s.rs === "" && dialect === "wcf" ? ` xmlns="${RS_NS}"` : "";
  let head =
    `<?xml version="1.0" encoding="UTF-8"?><${s.env}:Envelope xmlns:${s.env}="${SOAP12_NS}">${
      addressing(s.env, RESPONSE_ACTION, model.relatesTo)
    }`;
  yield enc.encode(head);
  if (padding > 0) {
    // An XML comment of exactly `padding` bytes, streamed.
    const fill = Math.max(0, padding - 7);
    yield enc.encode("<!--");
    const block = enc.encode("x".repeat(64 * 1024));
    for (let left = fill; left > 0; left -= block.length) {
      yield left >= block.length ? block : block.subarray(0, left);
    }
    yield enc.encode("-->");
  }
  head = `<${s.env}:Body><${s.xdsb}RetrieveDocumentSetResponse${s.decl}>` +
    `<${s.rs}RegistryResponse${rsNsAttr} status="${
      escapeXml(model.statusUrn)
    }">`;
  if (model.errors.length > 0) {
    const highest = model.errors.some((e) => e.severity.endsWith(":Error"))
      ? SEVERITY_PREFIX + "Error"
      : SEVERITY_PREFIX + "Warning";
    head += `<${s.rs}RegistryErrorList highestSeverity="${highest}">`;
    for (const e of model.errors) {
      head += `<${s.rs}RegistryError codeContext="${
        escapeXml(e.context)
      }" errorCode="${escapeXml(e.code)}" location="${
        escapeXml(e.location)
      }" severity="${escapeXml(e.severity)}"/>`;
    }
    head += `</${s.rs}RegistryErrorList>`;
  }
  head += `</${s.rs}RegistryResponse>`;
  yield enc.encode(head);
  let index = 0;
  for (const doc of model.documents) {
    const x = s.xdsb;
    yield enc.encode(
      `<${x}DocumentResponse>${
        doc.homeCommunityId !== undefined
          ? `<${x}HomeCommunityId>${
            escapeXml(doc.homeCommunityId)
          }</${x}HomeCommunityId>`
          : ""
      }<${x}RepositoryUniqueId>${
        escapeXml(doc.repositoryUniqueId)
      }</${x}RepositoryUniqueId><${x}DocumentUniqueId>${
        escapeXml(doc.documentUniqueId)
      }</${x}DocumentUniqueId><${x}mimeType>application/dicom</${x}mimeType><${x}Document>`,
    );
    yield* document(doc, index++);
    yield enc.encode(`</${x}Document></${x}DocumentResponse>`);
  }
  yield enc.encode(
    `</${s.xdsb}RetrieveDocumentSetResponse></${s.env}:Body></${s.env}:Envelope>`,
  );
}

/** Java's String.hashCode, for the NIST HashMap order. */
function javaHash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) {
    h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  }
  return h;
}

/** A deterministic shuffle. */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = items.slice();
  let x = seed || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** One MIME part about to be written. */
interface OutPart {
  headers: string[];
  body: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Per-dialect MIME conventions. */
interface Mime {
  boundary: string;
  contentType: string;
  leadingNewline: boolean;
  rootHeaders: string[];
  /** Header value of part `i` (as written) and the href pointing at it. */
  ids: (i: number, uid: string) => { header: string; href: string };
  partHeaders: (
    id: string | undefined,
    cte: string,
    uid: string,
    i: number,
  ) => string[];
  hashOrder: boolean;
}

function hex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const ROOT_XOP =
  'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"';

function mimeFor(dialect: FakeDialect): Mime {
  switch (dialect) {
    case "cxf": {
      const uuid = crypto.randomUUID();
      const root = "<root.message@cxf.apache.org>";
      return {
        boundary: `uuid:${uuid}`,
        contentType:
          `multipart/related; type="application/xop+xml"; boundary="uuid:${uuid}"; start="${root}"; start-info="application/soap+xml"`,
        leadingNewline: true,
        rootHeaders: [
          ROOT_XOP,
          "Content-Transfer-Encoding: binary",
          `Content-ID: ${root}`,
        ],
        ids: (i) => {
          const id = `${crypto.randomUUID()}-${i + 1}`;
          return {
            header: `<${id}@urn:ihe:iti:xds-b:2007>`,
            href: `cid:${id}@${encodeURIComponent("urn:ihe:iti:xds-b:2007")}`,
          };
        },
        partHeaders: (id, cte) => [
          "Content-Type: application/dicom",
          `Content-Transfer-Encoding: ${cte}`,
          ...(id ? [`Content-ID: ${id}`] : []),
        ],
        hashOrder: false,
      };
    }
    case "vitrea": {
      const boundary = `----=_Part_${Math.floor(Math.random() * 1000)}_${
        Math.floor(Math.random() * 2 ** 31)
      }.${Date.now()}`;
      const root = "<rootpart@vitrea.local>";
      return {
        boundary,
        contentType:
          `multipart/related; type="application/xop+xml"; start="${root}"; start-info="application/soap+xml"; boundary="${boundary}"`,
        leadingNewline: false,
        rootHeaders: [
          'Content-Type: application/xop+xml; charset=utf-8; type="application/soap+xml"',
          "Content-Transfer-Encoding: 8bit",
          `Content-Id: ${root}`,
        ],
        ids: (i, uid) => {
          const id = `${i + 1}.${uid}@vitrea.local`;
          return { header: id, href: `cid:${id}` };
        },
        partHeaders: (id, cte) => [
          "Content-Type: application/dicom",
          `Content-Transfer-Encoding: ${cte}`,
          ...(id ? [`Content-ID: ${id}`] : []),
        ],
        hashOrder: false,
      };
    }
    case "nist": {
      const boundary = "MIMEBoundary112233445566778899";
      return {
        boundary,
        contentType:
          `multipart/related; boundary=${boundary}; type="application/xop+xml"; start="<doc0@ihexds.nist.gov>"; start-info="application/soap+xml"`,
        leadingNewline: false,
        rootHeaders: [
          ROOT_XOP,
          "Content-Transfer-Encoding: binary",
          "Content-ID: <doc0@ihexds.nist.gov>",
        ],
        ids: (i) => ({
          header: `<doc${i + 1}@ihexds.nist.gov>`,
          href: `cid:doc${i + 1}@ihexds.nist.gov`,
        }),
        partHeaders: (id, cte) => [
          "Content-Type: application/dicom",
          `Content-Transfer-Encoding: ${cte}`,
          ...(id ? [`Content-ID: ${id}`] : []),
        ],
        hashOrder: true,
      };
    }
    case "axis2": {
      const rootUuid = hex(16).toUpperCase();
      const boundary = `MIMEBoundaryurn_uuid_${rootUuid}`;
      const start = `0.urn:uuid:${rootUuid}@apache.org`;
      return {
        boundary,
        contentType:
          `multipart/related; boundary=${boundary}; type="application/xop+xml"; start="${start}"; start-info="application/soap+xml"; action="${RESPONSE_ACTION}"`,
        leadingNewline: false,
        rootHeaders: [
          ROOT_XOP,
          "Content-Transfer-Encoding: binary",
          `Content-ID: <${start}>`,
        ],
        ids: (i) => {
          const id = `${i + 1}.urn:uuid:${hex(16).toUpperCase()}@apache.org`;
          return { header: `<${id}>`, href: `cid:${id}` };
        },
        partHeaders: (id, cte) => [
          "Content-Type: application/dicom",
          `Content-Transfer-Encoding: ${cte}`,
          ...(id ? [`Content-ID: ${id}`] : []),
        ],
        hashOrder: false,
      };
    }
    case "wcf": {
      const uuid = crypto.randomUUID();
      const boundary = `uuid:${uuid}+id=1`;
      const root = "<http://tempuri.org/0>";
      return {
        boundary,
        contentType:
          `multipart/related; type="application/xop+xml"; start="${root}"; boundary="${boundary}"; start-info="application/soap+xml"`,
        leadingNewline: true,
        rootHeaders: [
          `Content-ID: ${root}`,
          "Content-Transfer-Encoding: 8bit",
          'Content-Type: application/xop+xml;charset=utf-8;type="application/soap+xml"',
        ],
        ids: (i) => {
          const id = `${i + 1}.${uuid}`;
          return {
            header: `<${id}@tempuri.org>`,
            href: `cid:${id}%40tempuri.org`,
          };
        },
        partHeaders: (id, cte) => [
          ...(id ? [`Content-ID: ${id}`] : []),
          `Content-Transfer-Encoding: ${cte}`,
          "Content-Type: application/octet-stream",
        ],
        hashOrder: false,
      };
    }
    case "form-data": {
      const boundary = hex(16);
      return {
        boundary,
        contentType: `multipart/form-data; boundary=${boundary}`,
        leadingNewline: false,
        rootHeaders: [
          'Content-Disposition: form-data; name="0"; filename="soap.xml"',
          ROOT_XOP,
        ],
        ids: (i) => ({ header: "", href: `cid:${i + 1}` }),
        partHeaders: (_id, cte, uid, i) => [
          `Content-Disposition: form-data; name="${
            i + 1
          }"; filename="${uid}.dcm"`,
          "Content-Type: application/dicom",
          ...(cte === "base64" ? ["Content-Transfer-Encoding: base64"] : []),
        ],
        hashOrder: false,
      };
    }
    case "inline":
      throw new Error("The inline dialect has no MIME framing");
  }
}

/** Materialises a body for re-iteration. */
async function* iterate(body: Body): AsyncGenerator<Uint8Array> {
  yield* body();
}

/** A plain application/soap+xml answer. */
export function plainSoap(
  dialect: FakeDialect,
  model: ResponseModel,
  plan: FaultPlan,
): FramedResponse {
  return {
    status: 200,
    contentType: plan.contentType !== undefined
      ? plan.contentType
      : dialect === "vitrea"
      ? "application/soap+xml"
      : `application/soap+xml; charset=UTF-8; action="${RESPONSE_ACTION}"`,
    chunks: soapRoot(
      dialect,
      model,
      plan.rootPadding ?? 0,
      (doc) => base64Chunks(iterate(doc.body), false),
    ),
  };
}

/** A SOAP Fault answer (plain or one-part multipart). */
export function faultResponse(
  dialect: FakeDialect,
  fault: FakeSoapFault,
  plan: FaultPlan,
  relatesTo?: string,
): FramedResponse {
  const status = fault.status ?? (fault.code === "Sender" ? 400 : 500);
  const xml = enc.encode(faultEnvelope(fault, relatesTo));
  if (!fault.multipart || dialect === "inline") {
    return {
      status,
      contentType: plan.contentType !== undefined
        ? plan.contentType
        : "application/soap+xml; charset=UTF-8",
      chunks: (async function* () {
        yield xml;
      })(),
    };
  }
  const mime = mimeFor(dialect);
  return {
    status,
    contentType: plan.contentType !== undefined
      ? plan.contentType
      : mime.contentType,
    chunks: frame(
      mime,
      [{ headers: mime.rootHeaders, body: () => [xml] }],
      plan,
    ),
  };
}

/** Writes parts with delimiters, honouring the framing knobs of the plan. */
async function* frame(
  mime: Mime,
  parts: OutPart[],
  plan: FaultPlan,
): AsyncGenerator<Uint8Array> {
  const nl = plan.lineEndings === "lf" ? "\n" : "\r\n";
  let first = true;
  let prefix = plan.preamble !== undefined
    ? plan.preamble + nl
    : mime.leadingNewline
    ? nl
    : "";
  for (const part of parts) {
    yield enc.encode(
      `${prefix}${first ? "" : nl}--${mime.boundary}${nl}${
        part.headers.map((h) => h + nl).join("")
      }${nl}`,
    );
    prefix = "";
    first = false;
    yield* part.body();
  }
  if (!plan.omitClosingDelimiter) {
    yield enc.encode(`${nl}--${mime.boundary}--${nl}`);
  }
  if (plan.epilogue !== undefined) yield enc.encode(plan.epilogue);
}

/** The normal MTOM answer of a dialect. */
export function mtomResponse(
  dialect: FakeDialect,
  model: ResponseModel,
  plan: FaultPlan,
): FramedResponse {
  const mime = mimeFor(dialect);
  const base64 = plan.base64Parts ?? false;
  const nl = plan.lineEndings === "lf" ? "\n" : "\r\n";
  const ids = model.documents.map((d, i) => mime.ids(i, d.documentUniqueId));
  const headerIds: (string | undefined)[] = ids.map((id) =>
    id.header === "" ? undefined : id.header
  );
  if (plan.duplicateContentIds && headerIds.length >= 2) {
    headerIds[1] = headerIds[0];
  }
  if (plan.unknownContentId && headerIds.length >= 1) {
    headerIds[headerIds.length - 1] = `<unknown-${hex(4)}@fake.invalid>`;
  }
  const docParts: OutPart[] = model.documents.map((doc, i) => ({
    headers: mime.partHeaders(
      headerIds[i],
      base64 ? "base64" : "binary",
      doc.documentUniqueId,
      i,
    ),
    body: base64 ? () => base64Chunks(iterate(doc.body), true, nl) : doc.body,
  }));
  const root: OutPart = {
    headers: mime.rootHeaders,
    body: () =>
      soapRoot(
        dialect,
        model,
        plan.rootPadding ?? 0,
        async function* (_doc, i) {
          yield enc.encode(
            `<xop:Include xmlns:xop="${XOP_NS}" href="${
              escapeXml(ids[i]!.href)
            }"/>`,
          );
        },
      ),
  };
  let ordered = docParts;
  if (mime.hashOrder) {
    const size = Math.max(
      16,
      2 ** Math.ceil(Math.log2(ordered.length / 0.75 + 1)),
    );
    const keyed = ordered.map((p, i) => {
      const h = javaHash(ids[i]!.header);
      return { p, i, bucket: (h ^ (h >>> 16)) & (size - 1) };
    });
    keyed.sort((a, b) => a.bucket - b.bucket || a.i - b.i);
    ordered = keyed.map((k) => k.p);
  }
  if (plan.reorderParts === "reverse") ordered = ordered.slice().reverse();
  if (plan.reorderParts === "shuffle") ordered = shuffle(ordered, 0x2545f491);
  let all = plan.reorderParts === "rootLast"
    ? [...ordered, root]
    : [root, ...ordered];
  if (plan.extraPart) {
    const extra = plan.extraPart === true ? {} : plan.extraPart;
    const body = extra.body ??
      "Force MTOM/XOP to make 'important vendor' happy";
    const bytes = typeof body === "string" ? enc.encode(body) : body;
    const part: OutPart = {
      headers: [
        `Content-Type: ${extra.contentType ?? "text/plain"}`,
        "Content-Transfer-Encoding: binary",
        ...(dialect === "form-data"
          ? ['Content-Disposition: form-data; name="extra"']
          : [`Content-ID: <extra-${hex(4)}@fake.invalid>`]),
      ],
      body: () => [bytes],
    };
    const position = extra.position ?? "last";
    all = position === "first"
      ? [part, ...all]
      : position === "afterRoot"
      ? [all[0]!, part, ...all.slice(1)]
      : [...all, part];
  }
  return {
    status: 200,
    contentType: plan.contentType !== undefined
      ? plan.contentType
      : mime.contentType,
    chunks: frame(mime, all, plan),
  };
}

/** Garbage instead of MIME, with the dialect's Content-Type. */
export function garbageResponse(
  dialect: FakeDialect,
  garbage: string | Uint8Array,
  plan: FaultPlan,
): FramedResponse {
  const bytes = typeof garbage === "string" ? enc.encode(garbage) : garbage;
  const contentType = plan.contentType !== undefined
    ? plan.contentType
    : dialect === "inline"
    ? "application/soap+xml; charset=UTF-8"
    : mimeFor(dialect).contentType;
  return {
    status: 200,
    contentType,
    chunks: (async function* () {
      yield bytes;
    })(),
  };
}
