import assert from "node:assert/strict";
import { Rad69Client } from "../src/client.ts";
import { LimitExceededError, Rad69ProtocolError } from "../src/errors.ts";
import { silentLogger } from "../src/logger.ts";
import { syntheticStudy } from "../src/testing/mod.ts";
import { parseXml } from "../src/xml.ts";
import { soapEnvelope, startHostileServer } from "./_utils/hostile_server.ts";
import { collect, refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MIB = 2 ** 20;
const REFS = refsOf(syntheticStudy({ series: 1, instancesPerSeries: 2 }));

/** 63 MiB roots (under the 64 MiB root cap) of tiny nodes. */
const HOSTILE: Record<string, [string, string]> = {
  "tiny elements": ["<a/>", "maxXmlElements"],
  "tiny attributes": ["", "maxXmlNodes"],
  "references": ["x&amp;", "maxXmlNodes"],
  "comments": ["<!---->", "maxXmlNodes"],
  "processing instructions": ["<?p?>", "maxXmlNodes"],
  "CDATA sections": ["<![CDATA[]]>", "maxXmlNodes"],
};

function hostileRoot(kind: string): Uint8Array<ArrayBuffer> {
  const size = 63 * MIB;
  let inner: string;
  if (kind === "tiny attributes") {
    const parts: string[] = [];
    for (let i = 0, len = 0; len < size; i++) {
      const p = ` a${i}=""`;
      parts.push(p);
      len += p.length;
    }
    inner = `<r${parts.join("")}/>`;
  } else {
    const unit = HOSTILE[kind]![0];
    inner = `<r>${unit.repeat(Math.floor(size / unit.length))}</r>`;
  }
  return new TextEncoder().encode(soapEnvelope(inner));
}

Deno.test("a 63 MiB SOAP root of tiny nodes fails with LimitExceededError", async (t) => {
  for (const [kind, [, limit]] of Object.entries(HOSTILE)) {
    await t.step(kind, async () => {
      const body = hostileRoot(kind);
      assert.ok(body.length < 64 * MIB && body.length > 62 * MIB);
      await using server = startHostileServer(() =>
        new Response(body, {
          headers: { "content-type": "application/soap+xml" },
        })
      );
      using client = new Rad69Client({
        url: server.url,
        logger: silentLogger,
        retries: 0,
      });
      const outcomes = await collect(client.retrieve(REFS));
      assert.equal(outcomes.length, REFS.length);
      for (const o of outcomes) {
        assert.ok(o.status === "failed");
        assert.ok(o.error instanceof LimitExceededError, String(o.error));
        assert.equal(o.error.limit, limit);
      }
    });
  }
});

Deno.test("parseXml() counts nodes against maxNodes and elements against maxElements", () => {
  const doc = '<a x="1" y="&amp;"><!--c--><?p?><b/><![CDATA[z]]>&lt;</a>';
  // a, x, y, &amp;, comment, PI, b, CDATA, &lt;: 9 nodes, 2 elements.
  assert.equal(parseXml(doc, { maxNodes: 9 }).children.length, 1);
  assert.throws(
    () => parseXml(doc, { maxNodes: 8 }),
    (e) => e instanceof LimitExceededError && e.limit === "maxXmlNodes",
  );
  assert.throws(
    () => parseXml(doc, { maxElements: 1 }),
    (e) =>
      e instanceof LimitExceededError && e.limit === "maxXmlElements" &&
      e.max === 1,
  );
  // Malformed documents are still protocol errors.
  assert.throws(() => parseXml("<a>&bogus;</a>"), Rad69ProtocolError);
  assert.throws(() => parseXml("<a>& </a>"), Rad69ProtocolError);
  assert.equal(parseXml("<a>&#x26;&#38;&quot;</a>").text, '&&"');
});
