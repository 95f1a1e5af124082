/**
 * The DICOM encoding shared by the test builders (instances and KOS
 * manifests): data elements in implicit or explicit VR, little or big
 * endian, sequences and items of defined or undefined length, the Part-10
 * File Meta Information, and the deflated dataset.
 *
 * @module
 */

import { deflateRawSync } from "node:zlib";

/** Implicit VR Little Endian. */
export const IMPLICIT_VR_LE = "1.2.840.10008.1.2";
/** Explicit VR Little Endian. */
export const EXPLICIT_VR_LE = "1.2.840.10008.1.2.1";
/** Explicit VR Big Endian (retired, still stored by old archives). */
export const EXPLICIT_VR_BE = "1.2.840.10008.1.2.2";
/** Deflated Explicit VR Little Endian. */
export const DEFLATED_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1.99";
/** The implementation class UID written in the File Meta Information. */
const IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1234.69.1";
/** The implementation version name written in the File Meta Information. */
const IMPLEMENTATION_VERSION = "RAD69_FAKE_1";

/** How a dataset's elements are written. */
export interface Encoding {
  /** Explicit VR (else implicit). */
  readonly explicit: boolean;
  /** Little endian (else big endian). */
  readonly littleEndian: boolean;
}

/** What a transfer syntax means for the writer of a dataset. */
export interface SyntaxLayout {
  /** The element encoding of the dataset. */
  readonly encoding: Encoding;
  /** The dataset is deflated after the File Meta Information. */
  readonly deflated: boolean;
  /** Pixel Data is encapsulated (fragments), i.e. compressed. */
  readonly encapsulated: boolean;
}

/**
 * The layout of a transfer syntax: implicit LE, explicit LE, explicit BE and
 * deflated carry native pixel data; any other UID is taken as encapsulated
 * with an explicit VR little endian dataset (as every compressed syntax is).
 */
export function syntaxLayout(transferSyntaxUid: string): SyntaxLayout {
  switch (transferSyntaxUid) {
    case IMPLICIT_VR_LE:
      return {
        encoding: { explicit: false, littleEndian: true },
        deflated: false,
        encapsulated: false,
      };
    case EXPLICIT_VR_LE:
      return { encoding: EXPLICIT_LE, deflated: false, encapsulated: false };
    case EXPLICIT_VR_BE:
      return {
        encoding: { explicit: true, littleEndian: false },
        deflated: false,
        encapsulated: false,
      };
    case DEFLATED_EXPLICIT_VR_LE:
      return { encoding: EXPLICIT_LE, deflated: true, encapsulated: false };
    default:
      return { encoding: EXPLICIT_LE, deflated: false, encapsulated: true };
  }
}

/** Explicit VR little endian: the File Meta Information's encoding. */
export const EXPLICIT_LE: Encoding = { explicit: true, littleEndian: true };

/** VRs with a 2-byte length field in explicit VR. */
const SHORT_VRS = new Set([
  "AE",
  "AS",
  "AT",
  "CS",
  "DA",
  "DS",
  "DT",
  "FL",
  "FD",
  "IS",
  "LO",
  "LT",
  "PN",
  "SH",
  "SL",
  "SS",
  "ST",
  "TM",
  "UI",
  "UL",
  "US",
]);

const UNDEFINED_LENGTH = 0xffffffff;
const encoder = new TextEncoder();

/** One data element, already encoded, with its tag for sorting. */
export interface Encoded {
  /** The tag as `(group << 16) | element`. */
  readonly tag: number;
  /** The element's bytes: header and value. */
  readonly bytes: Uint8Array;
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Pads a text value to even length for its VR (UI with NUL, else space). */
export function padValue(vr: string, value: string): Uint8Array {
  const raw = encoder.encode(value);
  if (raw.length % 2 === 0) return raw;
  const out = new Uint8Array(raw.length + 1);
  out.set(raw);
  out[raw.length] = vr === "UI" ? 0 : 0x20;
  return out;
}

/** Writes a tag (group, element) at `offset`. */
function writeTag(
  view: DataView,
  offset: number,
  tag: number,
  littleEndian: boolean,
): void {
  view.setUint16(offset, tag >>> 16, littleEndian);
  view.setUint16(offset + 2, tag & 0xffff, littleEndian);
}

/**
 * The header of an element (tag, VR when explicit, length), for a value of
 * `length` bytes or of undefined length (`undefined`).
 */
export function elementHeader(
  tag: number,
  vr: string,
  length: number | undefined,
  encoding: Encoding,
): Uint8Array {
  const long = !SHORT_VRS.has(vr);
  const size = encoding.explicit ? (long ? 12 : 8) : 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const le = encoding.littleEndian;
  writeTag(view, 0, tag, le);
  const value = length ?? UNDEFINED_LENGTH;
  if (encoding.explicit) {
    out[4] = vr.charCodeAt(0);
    out[5] = vr.charCodeAt(1);
    if (long) view.setUint32(8, value, le);
    else view.setUint16(6, value, le);
  } else {
    view.setUint32(4, value, le);
  }
  return out;
}

/** Encodes one element: header and value (already in the right byte order). */
export function element(
  tag: number,
  vr: string,
  value: Uint8Array,
  encoding: Encoding,
): Encoded {
  return {
    tag,
    bytes: concat([elementHeader(tag, vr, value.length, encoding), value]),
  };
}

/** A text element (padded to even length). */
export function text(
  tag: number,
  vr: string,
  value: string,
  encoding: Encoding,
): Encoded {
  return element(tag, vr, padValue(vr, value), encoding);
}

/** A US element. */
export function us(tag: number, value: number, encoding: Encoding): Encoded {
  const v = new Uint8Array(2);
  new DataView(v.buffer).setUint16(0, value, encoding.littleEndian);
  return element(tag, "US", v, encoding);
}

/** A delimiter or item tag with a 32-bit length (never has a VR). */
export function itemTag(
  tag: number,
  length: number,
  littleEndian: boolean,
): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  writeTag(view, 0, tag, littleEndian);
  view.setUint32(4, length, littleEndian);
  return out;
}

/** Item (FFFE,E000). */
export const ITEM = 0xfffee000;
/** Item Delimitation Item (FFFE,E00D). */
const ITEM_DELIMITER = 0xfffee00d;
/** Sequence Delimitation Item (FFFE,E0DD). */
export const SEQUENCE_DELIMITER = 0xfffee0dd;

/**
 * A sequence element (SQ) holding `items`, each a list of elements written in
 * ascending tag order; with `undefinedLength`, the sequence and every item
 * have undefined length and end with their delimiters.
 */
export function sequence(
  tag: number,
  items: readonly (readonly Encoded[])[],
  encoding: Encoding,
  undefinedLength = false,
): Encoded {
  const le = encoding.littleEndian;
  const encodedItems = items.map((elements) => {
    const body = concat(
      [...elements].sort((a, b) => a.tag - b.tag).map((e) => e.bytes),
    );
    return undefinedLength
      ? concat([
        itemTag(ITEM, UNDEFINED_LENGTH, le),
        body,
        itemTag(ITEM_DELIMITER, 0, le),
      ])
      : concat([itemTag(ITEM, body.length, le), body]);
  });
  const value = concat(encodedItems);
  if (undefinedLength) {
    return {
      tag,
      bytes: concat([
        elementHeader(tag, "SQ", undefined, encoding),
        value,
        itemTag(SEQUENCE_DELIMITER, 0, le),
      ]),
    };
  }
  return element(tag, "SQ", value, encoding);
}

/** The UIDs written in the File Meta Information. */
export interface FileMetaUids {
  /** Media Storage SOP Class UID (0002,0002). */
  readonly sopClassUid: string;
  /** Media Storage SOP Instance UID (0002,0003). */
  readonly instanceUid: string;
  /** Transfer Syntax UID (0002,0010). */
  readonly transferSyntaxUid: string;
}

/**
 * The 128-byte preamble, `DICM` and the File Meta Information group
 * (explicit VR little endian, with its group length (0002,0000)).
 */
export function fileMeta(uids: FileMetaUids): Uint8Array {
  const meta = [
    element(0x00020001, "OB", new Uint8Array([0, 1]), EXPLICIT_LE),
    text(0x00020002, "UI", uids.sopClassUid, EXPLICIT_LE),
    text(0x00020003, "UI", uids.instanceUid, EXPLICIT_LE),
    text(0x00020010, "UI", uids.transferSyntaxUid, EXPLICIT_LE),
    text(0x00020012, "UI", IMPLEMENTATION_CLASS_UID, EXPLICIT_LE),
    text(0x00020013, "SH", IMPLEMENTATION_VERSION, EXPLICIT_LE),
  ];
  const body = concat(meta.map((e) => e.bytes));
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, body.length, true);
  return concat([
    new Uint8Array(128),
    encoder.encode("DICM"),
    element(0x00020000, "UL", groupLength, EXPLICIT_LE).bytes,
    body,
  ]);
}

/**
 * A Part-10 file: the File Meta Information, then the dataset, deflated
 * (raw DEFLATE, RFC 1951, as PS3.5 §A.5 requires) when the syntax says so.
 */
export function part10(
  uids: FileMetaUids,
  dataset: Uint8Array,
): Uint8Array {
  const deflated = syntaxLayout(uids.transferSyntaxUid).deflated;
  let body = deflated ? new Uint8Array(deflateRawSync(dataset)) : dataset;
  // The deflated stream is padded to even length like any DICOM stream.
  if (deflated && body.length % 2 === 1) {
    body = concat([body, new Uint8Array(1)]);
  }
  return concat([fileMeta(uids), body]);
}

/** Swaps the bytes of each 16-bit word in place (OW in big endian). */
export function swap16(bytes: Uint8Array): void {
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const b = bytes[i]!;
    bytes[i] = bytes[i + 1]!;
    bytes[i + 1] = b;
  }
}
