import assert from "node:assert/strict";
import { join } from "node:path";
import { Rad69Client } from "../src/client.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { escapeForTerminal } from "../src/terminal_escape.ts";
import { rad69, triplet } from "./_utils/cli.ts";
import { startHostileServer } from "./_utils/hostile_server.ts";
import { collect, refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({ series: 1, instancesPerSeries: 1, seed: 11 });
const REFS = refsOf(STUDY);
/** Retitles the terminal, erases the line and forges a summary. */
const ATTACK =
  "\x1b]0;pwned\x07\x1b[2K\rDownloaded 3 of 3 instance(s)\n\u009b2J\u202eevil\x1b[8m";
/** Any character a terminal could act on (tab aside). */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function soapFault(reason: string): string {
  return `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">${reason}</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`;
}

/** Each line of human output is safe: nothing but its final newline. */
function assertSafeLines(output: string): void {
  for (const line of output.split("\n")) {
    assert.ok(!UNSAFE.test(line), JSON.stringify(line));
  }
  assert.doesNotMatch(output, /^Downloaded 3 of 3/m);
}

const SERVERS: Record<string, () => Response> = {
  "an error body": () =>
    new Response(ATTACK, {
      status: 500,
      headers: { "content-type": "text/plain" },
    }),
  "a SOAP Fault reason": () =>
    new Response(soapFault(ATTACK), {
      status: 500,
      headers: { "content-type": "application/soap+xml" },
    }),
};

Deno.test("rad69 prints server text escaped, and exact in --json", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, answer] of Object.entries(SERVERS)) {
      await t.step(name, async () => {
        await using server = startHostileServer(answer);
        const args = [
          "--url",
          server.url,
          "--out",
          join(dir, "out"),
          "--retries",
          "0",
          "--log-level",
          "debug",
          ...REFS.map(triplet),
        ];
        const human = await rad69(args);
        assert.equal(human.code, 1, human.stderr);
        assertSafeLines(human.stderr);
        assert.match(human.stderr, /pwned/);

        const json = await rad69([...args, "--json"]);
        assert.equal(json.code, 1, json.stderr);
        assertSafeLines(json.stdout);
        assertSafeLines(json.stderr);
        const summary = JSON.parse(json.stdout);
        const message: string = summary.instances[0].error.message;
        // The exact message: a Fault's reason as sent; an HTTP error quotes
        // the body as a JSON string (which escapes C0 but not C1).
        if (name === "a SOAP Fault reason") {
          assert.ok(message.includes("\x1b]0;pwned\x07\x1b[2K"), message);
          assert.ok(message.includes("\u009b2J\u202eevil\x1b[8m"), message);
        } else {
          assert.ok(message.includes("\\u001b]0;pwned\\u0007"), message);
          assert.ok(message.includes("\u009b2J\u202eevil"), message);
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rad69 prints a RegistryError context escaped", async () => {
  // C1 controls are valid XML characters, so a server can put them in a
  // codeContext; raw ESC too (the reader does not police characters).
  await using server = await FakeRad69Server.start({ instances: STUDY });
  server.enqueue({
    omit: [REFS[0]!.instanceUid],
    errors: [{
      code: "XDSRepositoryError",
      context: `broken ${ATTACK.replace("\n", "")}`,
      location: REFS[0]!.instanceUid,
    }],
  });
  const dir = await Deno.makeTempDir();
  try {
    const out = await rad69([
      "--url",
      server.url,
      "--out",
      dir,
      ...REFS.map(triplet),
    ]);
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /XDSRepositoryError/);
    assertSafeLines(out.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log lines quoting the server are escaped; errors keep the exact text", async () => {
  await using server = startHostileServer(SERVERS["an error body"]!);
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  using client = new Rad69Client({
    url: server.url,
    retries: 0,
    logger: { debug: log, info: log, warn: log },
  });
  const [outcome] = await collect(client.retrieve(REFS));
  assert.ok(outcome?.status === "failed");
  const excerpt = (outcome.error as { bodyExcerpt?: string }).bodyExcerpt;
  assert.equal(excerpt, ATTACK);
  assert.ok(lines.some((l) => l.includes("pwned")), lines.join("\n"));
  for (const line of lines) assert.ok(!UNSAFE.test(line), line);
});

Deno.test("escapeForTerminal() escapes C0 but tab, DEL, C1 and bidi controls, idempotently", () => {
  for (let code = 0; code < 0xa0; code++) {
    const c = String.fromCharCode(code);
    const safe = code === 9 || (code >= 0x20 && code < 0x7f);
    assert.equal(escapeForTerminal(c) === c, safe, `U+${code.toString(16)}`);
    assert.ok(!UNSAFE.test(escapeForTerminal(c)));
  }
  const once = escapeForTerminal(ATTACK);
  assert.equal(escapeForTerminal(once), once);
  assert.equal(escapeForTerminal("é ü 中 \\x1b"), "é ü 中 \\x1b");
});
