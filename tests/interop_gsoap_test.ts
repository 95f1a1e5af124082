/**
 * Interop with gSOAP 2.8 (Debian `gsoap` + `libgsoap-dev`), issue 14 item
 * 12: the client against a real gSOAP RAD-69 endpoint answering with MTOM
 * attachments (`tests/interop/gsoap/`), and the fake server against a real
 * gSOAP client.
 *
 * The gSOAP endpoint declares no SOAP Header, so it processes no
 * WS-Addressing: it faults the client's default mustUnderstand wsa:Action.
 *
 * `soapcpp2` and `g++` build the harness into a temporary directory at test
 * time. The real-stack tests are ignored, with a message, when they or the
 * gSOAP headers are absent (`apt-get install gsoap libgsoap-dev g++`). The
 * loopback replays of what gSOAP sent always run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Rad69Client, SoapFaultError } from "../mod.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const SOURCES = new URL("./interop/gsoap/", import.meta.url).pathname;
const IMPORTS = "/usr/share/gsoap/import";

/** Whether a command runs at all. */
async function runs(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Whether an executable is on PATH. (`soapcpp2 -v` cannot serve as a probe:
 * it reads stdin and writes generated files into the working directory.)
 */
async function onPath(name: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const info = await Deno.stat(join(dir, name));
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch { /* not here */ }
  }
  return false;
}

/** Why the real-stack tests cannot run here, or undefined when they can. */
async function missingStack(): Promise<string | undefined> {
  const missing: string[] = [];
  if (!await onPath("soapcpp2")) missing.push("soapcpp2");
  if (!await runs("g++", ["--version"])) missing.push("g++");
  for (const file of ["/usr/include/stdsoap2.h", `${IMPORTS}/xop.h`]) {
    try {
      await Deno.stat(file);
    } catch {
      missing.push(file);
    }
  }
  return missing.length === 0
    ? undefined
    : `gSOAP interop tests skipped: ${
      missing.join(", ")
    } not found (apt-get install gsoap libgsoap-dev g++)`;
}

const SKIP = await missingStack();
if (SKIP) {
  // deno-lint-ignore no-console
  console.log(SKIP);
}

let built: Promise<string> | undefined;

/** Runs a build step, failing with its output. */
async function step(command: string, args: string[], cwd: string) {
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    const decoder = new TextDecoder();
    throw new Error(
      `${command} failed: ${decoder.decode(stdout)}${decoder.decode(stderr)}`,
    );
  }
}

/** Builds `rad69_gsoap` once, into a temporary directory; returns its path. */
function build(): Promise<string> {
  built ??= (async () => {
    const out = await Deno.makeTempDir({ prefix: "rad69-gsoap-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(out, { recursive: true });
      } catch { /* already gone */ }
    });
    await step("soapcpp2", [
      "-L",
      "-x",
      `-I${IMPORTS}`,
      "-d",
      out,
      join(SOURCES, "rad69.h"),
    ], out);
    const binary = join(out, "rad69_gsoap");
    await step("g++", [
      "-O0",
      "-w",
      "-o",
      binary,
      `-I${out}`,
      join(SOURCES, "rad69_server.cpp"),
      join(out, "soapC.cpp"),
      join(out, "soapServer.cpp"),
      join(out, "soapClient.cpp"),
      "-lgsoap++",
    ], out);
    return binary;
  })();
  return built;
}

/** Reads a stream to text in the background. */
function collect(stream: ReadableStream<Uint8Array>): {
  done: Promise<void>;
  text: () => string;
} {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        text += chunk;
      },
    }),
  );
  return { done, text: () => text };
}

/** Starts the gSOAP endpoint serving `dir/<uid>.dcm`. */
async function startServer(
  dir: string,
): Promise<{ url: string } & AsyncDisposable> {
  const binary = await build();
  const child = new Deno.Command(binary, {
    args: ["serve", dir],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.status;
    await Promise.allSettled([out.done, err.done]);
  };
  const deadline = Date.now() + 10_000;
  let match: RegExpMatchArray | null;
  while (!(match = out.text().match(/LISTENING (\d+)/))) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`gSOAP server did not start: ${err.text()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `http://127.0.0.1:${match[1]}/rad69`,
    [Symbol.asyncDispose]: stop,
  };
}

const STUDY = syntheticStudy({ series: 1, instancesPerSeries: 3, seed: 212 });
const MISSING = {
  studyUid: STUDY[0]!.studyUid,
  seriesUid: STUDY[0]!.seriesUid,
  instanceUid: `${STUDY[0]!.seriesUid}.999`,
};

Deno.test({
  name:
    "Rad69Client against a gSOAP MTOM endpoint: the MustUnderstand Fault names addressingMustUnderstand, which gets the attachments",
  ignore: SKIP !== undefined,
  timeout: 120_000,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "rad69-gsoap-data-" });
    try {
      for (const i of STUDY) {
        await Deno.writeFile(join(dir, `${i.instanceUid}.dcm`), i.bytes);
      }
      await using server = await startServer(dir);
      for (const mtom of [false, true]) {
        await t.step(`default client, mtom: ${mtom}`, async () => {
          const client = new Rad69Client({ url: server.url, mtom, retries: 0 });
          await assert.rejects(client.getDataset(STUDY[0]!), (e) => {
            assert.ok(e instanceof SoapFaultError, String(e));
            assert.equal(e.code, "SOAP-ENV:MustUnderstand");
            assert.equal(e.status, 500);
            assert.match(e.reason, /'wsa:Action' must be understood/);
            assert.match(e.message, /addressingMustUnderstand: false/);
            assert.match(e.message, /--no-must-understand/);
            return true;
          });
        });
        await t.step(
          `addressingMustUnderstand: false, mtom: ${mtom}`,
          async () => {
            const client = new Rad69Client({
              url: server.url,
              mtom,
              addressingMustUnderstand: false,
            });
            const outcomes = await Array.fromAsync(
              client.retrieve([...STUDY, MISSING]),
            );
            const byUid = new Map(outcomes.map((o) => [o.ref.instanceUid, o]));
            for (const i of STUDY) {
              const o = byUid.get(i.instanceUid)!;
              assert.equal(
                o.status,
                "delivered",
                o.status === "failed" ? o.error.message : "",
              );
              if (o.status === "delivered") {
                assert.deepEqual(o.instance.bytes, i.bytes);
              }
            }
            const missing = byUid.get(MISSING.instanceUid)!;
            assert.equal(missing.status, "failed");
            if (missing.status === "failed") {
              assert.match(missing.error.message, /XDSMissingDocument/);
            }
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "FakeRad69Server answers a gSOAP client (plain SOAP 1.2, no WS-Addressing)",
  ignore: SKIP !== undefined,
  timeout: 120_000,
  async fn(t) {
    const binary = await build();
    const call = async (url: string) => {
      const child = new Deno.Command(binary, {
        args: ["call", url],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(
        new TextEncoder().encode(
          STUDY.map((i) => `${i.studyUid} ${i.seriesUid} ${i.instanceUid}\n`)
            .join(""),
        ),
      );
      await writer.close();
      const { stdout } = await child.output();
      return new TextDecoder().decode(stdout).trim();
    };
    await t.step(
      "processAddressing: false delivers every document",
      async () => {
        await using server = await FakeRad69Server.start({
          instances: STUDY,
          processAddressing: false,
        });
        assert.equal(await call(server.url), `OK ${STUDY.length}`);
        const request = server.requests[0]!;
        assert.ok(request.valid, request.validationError);
        assert.equal(request.mtom, false);
        assert.equal(
          request.headers.get("soapaction"),
          `"${"urn:ihe:rad:2009:RetrieveImagingDocumentSet"}"`,
        );
      },
    );
    await t.step(
      "the default server wants wsa:Action and says so",
      async () => {
        await using server = await FakeRad69Server.start({ instances: STUDY });
        const verdict = await call(server.url);
        assert.match(verdict, /^FAULT /);
        assert.match(
          server.requests[0]!.validationError!,
          /not present: Action/,
        );
      },
    );
  },
});

// Loopback replays of what gSOAP 2.8.124 sent above (framing as recorded:
// the request's root Content-ID and action echoed in the answer's
// Content-Type, attachment ids "<id1>", "<id2>", …).

/** Serves one fixed answer on loopback for the duration of `fn`. */
async function replay(
  status: number,
  contentType: string,
  body: Uint8Array,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  await using server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (req) => {
    await req.body?.cancel();
    return new Response(body.slice(), {
      status,
      headers: { "content-type": contentType },
    });
  });
  await fn(`http://127.0.0.1:${server.addr.port}/rad69`);
}

const GSOAP_NS =
  `xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xop="http://www.w3.org/2004/08/xop/include" xmlns:xmime5="http://www.w3.org/2005/05/xmlmime" xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" xmlns:iherad="urn:ihe:rad:xdsi-b:2009" xmlns:xdsb="urn:ihe:iti:xds-b:2007"`;

Deno.test("Rad69Client reads gSOAP's MTOM answer and MustUnderstand Fault (loopback replay)", async (t) => {
  const enc = new TextEncoder();
  const boundary =
    "==nGpzR/KspN6ry7jG8CU4bonN2aujzfJamyN3xYjaldFXYpeUryNGb0UROC0B==";
  await t.step("MTOM answer, attachments <id1>, <id2>, echoed start", () => {
    const docs = STUDY.slice(0, 2);
    const responses = docs.map((d, i) =>
      `<xdsb:DocumentResponse><xdsb:RepositoryUniqueId>1.3.6.1.4.1000</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>${d.instanceUid}</xdsb:DocumentUniqueId><xdsb:mimeType>application/dicom</xdsb:mimeType><xdsb:Document><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:id${
        i + 1
      }"/></xdsb:Document></xdsb:DocumentResponse>`
    ).join("");
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope ${GSOAP_NS}><SOAP-ENV:Header></SOAP-ENV:Header><SOAP-ENV:Body><xdsb:RetrieveDocumentSetResponse><rs:RegistryResponse status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"></rs:RegistryResponse>${responses}</xdsb:RetrieveDocumentSetResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>\n`;
    const root = "root.af34619b-58fb-4f1c-9608-479b58e76e47@rad69.client";
    const pieces: Uint8Array[] = [
      enc.encode(
        `--${boundary}\r\nContent-Type: application/xop+xml; charset=utf-8; type="application/soap+xml"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <${root}>\r\n\r\n${xml}\r\n`,
      ),
    ];
    docs.forEach((d, i) => {
      pieces.push(
        enc.encode(
          `--${boundary}\r\nContent-Type: application/dicom\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <id${
            i + 1
          }>\r\n\r\n`,
        ),
        d.bytes,
        enc.encode("\r\n"),
      );
    });
    pieces.push(enc.encode(`--${boundary}--`));
    const body = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of pieces) {
      body.set(p, at);
      at += p.length;
    }
    return replay(
      200,
      `multipart/related; charset=utf-8; boundary="${boundary}"; type="application/xop+xml"; start="<${root}>"; start-info="application/soap+xml"; action="urn:ihe:rad:2009:RetrieveImagingDocumentSet"`,
      body,
      async (url) => {
        const client = new Rad69Client({ url, retries: 0 });
        const got = await Array.fromAsync(client.datasets(docs));
        assert.deepEqual(got.map((g) => g.bytes), docs.map((d) => d.bytes));
      },
    );
  });
  await t.step(
    "MustUnderstand Fault without NotUnderstood blocks, HTTP 500",
    () =>
      replay(
        500,
        "application/soap+xml; charset=utf-8",
        enc.encode(
          `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope ${GSOAP_NS}><SOAP-ENV:Body><SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:MustUnderstand</SOAP-ENV:Value></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">The data in element 'wsa:Action' must be understood but cannot be processed</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n`,
        ),
        async (url) => {
          const client = new Rad69Client({ url, retries: 0 });
          await assert.rejects(client.getDataset(STUDY[0]!), (e) => {
            assert.ok(e instanceof SoapFaultError, String(e));
            assert.equal(e.code, "SOAP-ENV:MustUnderstand");
            assert.match(e.message, /addressingMustUnderstand: false/);
            return true;
          });
        },
      ),
  );
});
