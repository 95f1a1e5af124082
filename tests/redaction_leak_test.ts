import assert from "node:assert/strict";
import { join } from "node:path";
import { Rad69Client } from "../src/client.ts";
import { silentLogger } from "../src/logger.ts";
import { CUT_MARK, cutText, REDACTED, redactText } from "../src/redact.ts";
import { syntheticStudy } from "../src/testing/mod.ts";
import { rad69, triplet } from "./_utils/cli.ts";
import { startHostileServer } from "./_utils/hostile_server.ts";
import { collect, refsOf } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const REFS = refsOf(syntheticStudy({ series: 1, instancesPerSeries: 1 }));
const TOKEN = "sk_live_4f9a0c1be27d83a65c0e9b17d2f4a8c3";
const PASSWORD = 'p"ss\\w0rd!';

/** Every text of an error a user could see. */
function textsOf(error: unknown): string {
  const e = error as Record<string, unknown>;
  return [e.message, e.stack, e.bodyExcerpt, e.excerpt, e.reason, e.context]
    .filter((v) => typeof v === "string").join("\n");
}

/** The forms of the password a server may echo. */
function echoedForms(user: string, password: string): Record<string, string> {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return {
    raw: password,
    json: JSON.stringify(password).slice(1, -1),
    xml: password.replace(/"/g, "&quot;").replace(/'/g, "&apos;"),
    xmlNumeric: password.replace(/"/g, "&#34;"),
    percent: encodeURIComponent(password),
    basic: btoa(String.fromCharCode(...bytes)),
  };
}

Deno.test("an echoed Authorization header cut by an excerpt leaves no token prefix", async () => {
  // Pads put the 200-character cut of the message and the 300-byte cut of
  // the excerpt at every place inside "Bearer <token>".
  await using server = startHostileServer(({ request, index }) => {
    const pad = "x".repeat(150 + index * 3);
    return new Response(
      `${pad}Authorization: ${request.headers.get("authorization")}\n`,
      { status: 500, headers: { "content-type": "text/plain" } },
    );
  });
  using client = new Rad69Client({
    url: server.url,
    headers: { authorization: `Bearer ${TOKEN}` },
    logger: silentLogger,
    retries: 0,
  });
  for (let i = 0; i < 60; i++) {
    const [outcome] = await collect(client.retrieve(REFS));
    assert.ok(outcome?.status === "failed");
    const text = textsOf(outcome.error);
    assert.ok(
      !text.includes(TOKEN.slice(0, 4)),
      `pad ${150 + i * 3}: ${text}`,
    );
    assert.ok(!text.includes("Bearer s"), text);
  }
});

Deno.test("rad69 prints no prefix of an echoed token cut by an excerpt", async () => {
  const dir = await Deno.makeTempDir();
  await using server = startHostileServer(({ request }) =>
    new Response(
      `${"y".repeat(183)}${request.headers.get("authorization")}`,
      { status: 500 },
    )
  );
  try {
    for (const json of [true, false]) {
      const out = await rad69(
        [
          "--url",
          server.url,
          "--out",
          join(dir, "out"),
          "--retries",
          "0",
          "--header-env",
          "Authorization=RAD69_TEST_AUTH",
          "--log-level",
          "debug",
          ...(json ? ["--json"] : []),
          ...REFS.map(triplet),
        ],
        { RAD69_TEST_AUTH: `Bearer ${TOKEN}` },
      );
      assert.equal(out.code, 1, out.stderr);
      const printed = out.stdout + out.stderr;
      assert.ok(printed.includes(REDACTED), printed);
      assert.ok(!printed.includes(TOKEN.slice(0, 4)), printed);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a URL password echoed JSON-, XML-, percent- or base64-encoded is redacted", async (t) => {
  const forms = echoedForms("jim", PASSWORD);
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, form] of Object.entries(forms)) {
      await t.step(name, async () => {
        await using server = startHostileServer(() =>
          new Response(`{"error":"bad login","echo":"${form}"}`, {
            status: 500,
            headers: { "content-type": "application/json" },
          })
        );
        const url = new URL(server.url);
        url.username = "jim";
        url.password = encodeURIComponent(PASSWORD);
        // The library: the URL's credentials are secrets.
        using client = new Rad69Client({
          url: url.href,
          logger: silentLogger,
          retries: 0,
        });
        const [outcome] = await collect(client.retrieve(REFS));
        assert.ok(outcome?.status === "failed");
        const text = textsOf(outcome.error);
        assert.ok(!text.includes(form), text);
        assert.ok(!text.includes("w0rd"), text);
        // The CLI.
        const out = await rad69([
          "--url",
          url.href,
          "--out",
          join(dir, name),
          "--retries",
          "0",
          "--json",
          ...REFS.map(triplet),
        ]);
        assert.equal(out.code, 1, out.stderr);
        const printed = out.stdout + out.stderr;
        for (const f of Object.values(forms)) {
          assert.ok(!printed.includes(f), `${f} in ${printed}`);
        }
        assert.ok(!printed.includes("w0rd"), printed);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("redactText() redacts secret prefixes only at cut marks", () => {
  const secret = "Bearer abcdefgh12345678";
  assert.equal(
    redactText(cutText("auth: Bearer abcdef and more", 18), [secret]),
    `auth: ${REDACTED}${CUT_MARK}`,
  );
  // Without a cut, a shared prefix is ordinary text.
  assert.equal(
    redactText("auth: Bearer abc", [secret]),
    "auth: Bearer abc",
  );
  // Secrets under 8 characters are not redacted by prefix.
  assert.equal(redactText(`x abc${CUT_MARK}`, ["abcdefg"]), `x abc${CUT_MARK}`);
  // Every form of a secret, each cut at an edge.
  for (const form of Object.values(echoedForms("jim", PASSWORD))) {
    for (let k = 4; k < form.length; k++) {
      const text = redactText(`e: ${form.slice(0, k)}${CUT_MARK}`, [
        PASSWORD,
        `jim:${PASSWORD}`,
      ]);
      assert.equal(text, `e: ${REDACTED}${CUT_MARK}`, `${form} cut at ${k}`);
    }
  }
});
