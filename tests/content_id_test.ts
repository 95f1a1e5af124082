import assert from "node:assert/strict";
import {
  hrefToContentId,
  normalizeContentId,
} from "../src/multipart/content_id.ts";

Deno.test("normalizeContentId() strips one pair of angle brackets and trims", () => {
  assert.equal(
    normalizeContentId("<0d45-4@urn:ihe:iti:xds-b:2007>"),
    "0d45-4@urn:ihe:iti:xds-b:2007",
  );
  assert.equal(
    normalizeContentId("  <root.message@cxf.apache.org>\t"),
    "root.message@cxf.apache.org",
  );
  assert.equal(normalizeContentId("<<a@b>>"), "<a@b>");
  assert.equal(normalizeContentId("< a@b >"), "a@b");
});

Deno.test("normalizeContentId() keeps an id without brackets (Vitrea)", () => {
  assert.equal(normalizeContentId("1.2.3.4@vitrea"), "1.2.3.4@vitrea");
  assert.equal(normalizeContentId("<only-open"), "<only-open");
  assert.equal(normalizeContentId(""), "");
});

Deno.test("normalizeContentId() does not percent-decode or change case", () => {
  assert.equal(normalizeContentId("<A%40B@Example>"), "A%40B@Example");
});

Deno.test("hrefToContentId() decodes a CXF href to its header id", () => {
  const fromHref = hrefToContentId(
    "cid:0d45-4@urn%3Aihe%3Aiti%3Axds-b%3A2007",
  );
  assert.equal(fromHref, "0d45-4@urn:ihe:iti:xds-b:2007");
  assert.equal(
    fromHref,
    normalizeContentId("<0d45-4@urn:ihe:iti:xds-b:2007>"),
  );
});

Deno.test("hrefToContentId() decodes .NET %40 for @", () => {
  assert.equal(
    hrefToContentId("cid:http%3A%2F%2Ftempuri.org%2F1%2F63%40x"),
    "http://tempuri.org/1/63@x",
  );
  assert.equal(
    hrefToContentId("cid:doc1%40ihexds.nist.gov"),
    "doc1@ihexds.nist.gov",
  );
});

Deno.test("hrefToContentId() keeps Axis2 unencoded colons", () => {
  assert.equal(
    hrefToContentId("cid:1.urn:uuid:5A3C@apache.org"),
    "1.urn:uuid:5A3C@apache.org",
  );
});

Deno.test("hrefToContentId() strips cid: in any case and optional brackets", () => {
  assert.equal(hrefToContentId("CID:a@b"), "a@b");
  assert.equal(hrefToContentId("Cid:<a@b>"), "a@b");
  assert.equal(hrefToContentId("cid:%3Ca@b%3E"), "a@b");
  assert.equal(hrefToContentId("  cid:a@b  "), "a@b");
  assert.equal(hrefToContentId("a@b"), "a@b");
});

Deno.test("hrefToContentId() leaves malformed percent sequences as they are", () => {
  assert.equal(hrefToContentId("cid:a%zz@b"), "a%zz@b");
  assert.equal(hrefToContentId("cid:100%"), "100%");
  assert.equal(hrefToContentId("cid:a%4@b"), "a%4@b");
  // Invalid UTF-8: ASCII escapes are still decoded, the others kept.
  assert.equal(hrefToContentId("cid:a%FF%40b"), "a%FF@b");
});

Deno.test("hrefToContentId() decodes UTF-8 and keeps + and case", () => {
  assert.equal(hrefToContentId("cid:%C3%A9t%C3%A9@X"), "été@X");
  assert.equal(hrefToContentId("cid:uuid:A+id=1"), "uuid:A+id=1");
});
