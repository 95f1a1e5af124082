/**
 * The SOAP root reader against hostile and large roots: time and peak
 * memory of `parseRetrieveResponse()` (UTF-8 decode + `parseXml`) on
 * 63 MiB roots (just under the 64 MiB `maxRootPartSize`) made of tiny
 * elements, tiny attributes, `&amp;` references or empty comments, which
 * must fail fast at the node caps, and on legitimate roots: 63 MiB of
 * inline base64 in one element, and 40,000 DocumentResponses.
 *
 *   deno run -A bench/xml_bench.ts          # all cases, one child each
 *   deno bench --allow-read bench/xml_bench.ts                    # 8 MiB versions, timed
 *
 * Each case runs in its own child process, which builds the root, takes its
 * RSS, parses, and reports the seconds and the growth of the kernel's
 * high-water mark `VmHWM` over that RSS (the input bytes are not counted;
 * the decoded string is).
 *
 * @module
 */

import { parseRetrieveResponse } from "../src/soap/response.ts";

const MIB = 2 ** 20;
const ENVELOPE_HEAD =
  `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` +
  `<xdsb:RetrieveDocumentSetResponse xmlns:xdsb="urn:ihe:iti:xds-b:2007">` +
  `<rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>`;
const ENVELOPE_TAIL =
  `</xdsb:RetrieveDocumentSetResponse></s:Body></s:Envelope>`;

/** The cases: name → a root of about `bytes` bytes. */
export const CASES: Record<string, (bytes: number) => string> = {
  "tiny elements": (n) => wrap(`<r>${"<a/>".repeat(n / 4)}</r>`),
  "tiny attributes": (n) => {
    const parts: string[] = [];
    for (let i = 0, len = 0; len < n; i++) {
      const p = ` a${i}=""`;
      parts.push(p);
      len += p.length;
    }
    return wrap(`<r${parts.join("")}/>`);
  },
  "references": (n) => wrap(`<r>${"x&amp;".repeat(n / 6)}</r>`),
  "comments": (n) => wrap(`<r>x${"<!---->x".repeat(n / 8)}</r>`),
  "inline base64 (legitimate)": (n) =>
    wrap(
      `<xdsb:DocumentResponse><xdsb:RepositoryUniqueId>1.2</xdsb:RepositoryUniqueId>` +
        `<xdsb:DocumentUniqueId>1.2.3</xdsb:DocumentUniqueId><xdsb:mimeType>application/dicom</xdsb:mimeType>` +
        `<xdsb:Document>${
          "QUJD".repeat(n / 4)
        }</xdsb:Document></xdsb:DocumentResponse>`,
    ),
  "40,000 DocumentResponses (legitimate)": () => {
    const docs: string[] = [];
    for (let i = 0; i < 40_000; i++) {
      docs.push(
        `<xdsb:DocumentResponse><xdsb:RepositoryUniqueId>1.2</xdsb:RepositoryUniqueId>` +
          `<xdsb:DocumentUniqueId>1.2.3.${i}</xdsb:DocumentUniqueId><xdsb:mimeType>application/dicom</xdsb:mimeType>` +
          `<xdsb:Document><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:${i}@x"/></xdsb:Document></xdsb:DocumentResponse>`,
      );
    }
    return wrap(docs.join(""));
  },
};

function wrap(inner: string): string {
  return ENVELOPE_HEAD + inner + ENVELOPE_TAIL;
}

/** Parses, returning how it ended. */
function parse(bytes: Uint8Array): string {
  try {
    const r = parseRetrieveResponse(bytes);
    return `parsed, ${r.documents.length} document(s)`;
  } catch (error) {
    const e = error as Error & { limit?: string };
    return `${e.name}${e.limit ? ` (${e.limit})` : ""}`;
  }
}

for (const [name, make] of Object.entries(CASES)) {
  const bytes = new TextEncoder().encode(make(8 * MIB));
  Deno.bench({
    name: `${name}, 8 MiB`,
    group: "xml root",
    fn: () => {
      parse(bytes);
    },
  });
}

function vmHwm(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--child");
  if (at >= 0) {
    const name = Deno.args[at + 1]!;
    const bytes = new TextEncoder().encode(CASES[name]!(63 * MIB));
    const baseline = Deno.memoryUsage().rss;
    const t = performance.now();
    const outcome = parse(bytes);
    const seconds = (performance.now() - t) / 1000;
    const growth = (Math.max(vmHwm(), Deno.memoryUsage().rss) - baseline) /
      MIB;
    console.log(
      JSON.stringify({
        name,
        mib: bytes.length / MIB,
        outcome,
        seconds,
        growth,
      }),
    );
  } else {
    const rows = [
      "| root | MiB | outcome | seconds | RSS growth MiB | growth per input byte |",
      "| --- | ---: | --- | ---: | ---: | ---: |",
    ];
    for (const name of Object.keys(CASES)) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, "--child", name],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      rows.push(
        `| ${name} | ${r.mib.toFixed(1)} | ${r.outcome} | ${
          r.seconds.toFixed(2)
        } | ${r.growth.toFixed(0)} | ${(r.growth / r.mib).toFixed(2)} |`,
      );
    }
    // deno-lint-ignore no-console
    console.log(rows.join("\n"));
  }
}
