import assert from "node:assert/strict";
import { join } from "node:path";
import denoConfig from "../deno.json" with { type: "json" };
import { HELP_TEXT, parseCliArgs } from "../src/cli/args.ts";
import { parseInstanceList } from "../src/instance_list.ts";
import {
  formatBytes,
  formatDuration,
  renderProgress,
} from "../src/cli/progress_bar.ts";
import { Redactor } from "../src/cli/redact.ts";
import { isIgnored } from "../src/cli/summary.ts";
import type { CliSummary } from "../src/cli/summary.ts";
import { downloadPath } from "../src/download.ts";
import {
  InstanceListError,
  InvalidUidError,
  Rad69ServerError,
  XDSMissingDocumentError,
} from "../src/errors.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import { sameBytes } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const STUDY = syntheticStudy({ series: 2, instancesPerSeries: 2, seed: 3 });
const TRIPLETS = STUDY.map((i) =>
  `${i.studyUid}/${i.seriesUid}/${i.instanceUid}`
);
const MISSING = `${STUDY[0]!.studyUid}/${STUDY[0]!.seriesUid}/${
  STUDY[0]!.seriesUid
}.999`;
const FULL_PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cli.ts` in a child Deno with the given permissions. */
async function rad69(
  args: string[],
  options: { env?: Record<string, string>; permissions?: string[] } = {},
): Promise<CliResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...(options.permissions ?? FULL_PERMISSIONS),
      CLI,
      ...args,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-cli-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertDownloaded(dir: string, count = STUDY.length) {
  for (const instance of STUDY.slice(0, count)) {
    const bytes = await Deno.readFile(downloadPath(dir, instance));
    assert.ok(sameBytes(bytes, instance.bytes), instance.instanceUid);
  }
}

// ---------------------------------------------------------------------------
// Units: argument parsing, instance lists, redaction, progress, ignore.

Deno.test("parseCliArgs() reads every option of the contract", {
  timeout: 60_000,
}, () => {
  const parsed = parseCliArgs([
    "--url",
    "https://pacs/rad69",
    "--out",
    "dl",
    "--concurrency",
    "4",
    "--no-split-series",
    "--ignore",
    "XDSMissingDocument,urn:dicom:wado:0017",
    "--ignore",
    "SoapFaultError",
    "--transfer-syntax",
    "1.2.840.10008.1.2.1",
    "-H",
    "X-Trace: abc",
    "--header-env",
    "Authorization=RAD69_AUTH",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--ca",
    "ca.pem",
    "--retries",
    "5",
    "--timeout",
    "2.5",
    "--resume",
    "--json",
    "--instances",
    "list.csv",
    "1.2/1.2.3/1.2.3.4",
  ]);
  assert.equal(parsed.kind, "run");
  if (parsed.kind !== "run") return;
  const o = parsed.options;
  assert.equal(o.url, "https://pacs/rad69");
  assert.equal(o.out, "dl");
  assert.equal(o.concurrency, 4);
  assert.equal(o.splitSeries, false);
  assert.deepEqual(o.ignore, [
    "XDSMissingDocument",
    "urn:dicom:wado:0017",
    "SoapFaultError",
  ]);
  assert.deepEqual(o.transferSyntaxes, ["1.2.840.10008.1.2.1"]);
  assert.deepEqual(o.headers, [["X-Trace", "abc"]]);
  assert.deepEqual(o.headerEnv, [["Authorization", "RAD69_AUTH"]]);
  assert.equal(o.cert, "c.pem");
  assert.equal(o.key, "k.pem");
  assert.deepEqual(o.ca, ["ca.pem"]);
  assert.equal(o.retries, 5);
  assert.equal(o.timeoutSeconds, 2.5);
  assert.equal(o.resume, true);
  assert.equal(o.json, true);
  assert.equal(o.instancesFile, "list.csv");
  assert.deepEqual(o.triplets, ["1.2/1.2.3/1.2.3.4"]);
  const defaults = parseCliArgs(["--url", "http://x/rad69"]);
  assert.equal(defaults.kind === "run" && defaults.options.out, ".");
  assert.equal(defaults.kind === "run" && defaults.options.splitSeries, true);
  assert.equal(parseCliArgs(["--url", "http://x", "-h"]).kind, "help");
  assert.equal(parseCliArgs(["-V"]).kind, "version");
});

Deno.test(
  "parseCliArgs() rejects usage errors with a message naming the option",
  { timeout: 60_000 },
  () => {
    const cases: [string[], RegExp][] = [
      [[], /--url/],
      [["--url", "http://x", "--bogus"], /--bogus/],
      [["--url", "http://x", "--concurrency", "0"], /--concurrency "0"/],
      [["--url", "http://x", "--concurrency", "two"], /--concurrency "two"/],
      [["--url", "http://x", "--retries", "-1"], /--retries/],
      [["--url", "http://x", "--timeout", "soon"], /--timeout "soon"/],
      [["--url", "http://x", "--cert", "c.pem"], /--cert and --key/],
      [["--url", "http://x", "--log-level", "loud"], /--log-level "loud"/],
      [["--url", "http://x", "--header", "NoColon"], /no colon/],
      [["--url", "http://x", "--header", "Bad Name: v"], /"Bad Name"/],
      [["--url", "http://x", "--header-env", "Authorization"], /--header-env/],
    ];
    for (const [args, message] of cases) {
      assert.throws(() => parseCliArgs(args), (e: unknown) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(e.message, message);
        return true;
      }, args.join(" "));
    }
    assert.throws(
      () => parseCliArgs(["--url", "http://x", "-H", "Authorization s3cr3t"]),
      (e: unknown) => e instanceof TypeError && !e.message.includes("s3cr3t"),
    );
  },
);

Deno.test(
  "parseInstanceList() reads CSV with a header, comments and blank lines, and JSON arrays",
  { timeout: 60_000 },
  () => {
    const csv = [
      "\uFEFF# exported from the RIS",
      "StudyInstanceUID,SeriesInstanceUID,SOPInstanceUID",
      "",
      "1.2, 1.2.3 ,1.2.3.4",
      '"1.2";"1.2.3";"1.2.3.5"',
      "1.2\t1.2.3\t1.2.3.6,",
    ].join("\r\n");
    assert.deepEqual(parseInstanceList(csv, { file: "a.csv" }), [
      { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" },
      { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.5" },
      { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.6" },
    ]);
    const json = JSON.stringify([
      { study: "1.2", series: "1.2.3", instance: "1.2.3.4" },
      { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.5" },
    ]);
    assert.equal(
      parseInstanceList(`\n  ${json}`, { file: "a.json" }).length,
      2,
    );
    assert.deepEqual(
      parseInstanceList("# nothing\n\n", { file: "empty.csv" }),
      [],
    );
  },
);

Deno.test("parseInstanceList() errors name the file and the line or entry", {
  timeout: 60_000,
}, () => {
  const cases: [
    string,
    string,
    RegExp,
    typeof InstanceListError | typeof InvalidUidError,
  ][] = [
    [
      "1.2,1.2.3,1.2.3.4\n1.2,1.2.3\n",
      "l.csv",
      /"l\.csv" line 2: expected 3 fields/,
      InstanceListError,
    ],
    [
      "# c\n1.2,1.2.3,1.2.3.4\n1.2,1.02.3,1.2.3.5\n",
      "l.csv",
      /"l\.csv" line 3 \(series\)/,
      InvalidUidError,
    ],
    [
      '[{"study": "1.2",}]',
      "l.json",
      /"l\.json" line 1 column 18: not valid JSON: Expected double-quoted property name$/,
      InstanceListError,
    ],
    [
      '[\n  {"study": "1.2"\n   "series": "1.2.3"}\n]',
      "l.json",
      /"l\.json" line 3 column 4: not valid JSON/,
      InstanceListError,
    ],
    [
      '  {"study": "1.2"}',
      "l.csv",
      /"l\.csv": expected a JSON array .* got an object/,
      InstanceListError,
    ],
    [
      '{"study": "1.2",',
      "l.csv",
      /"l\.csv" line 1 column 17: not valid JSON/,
      InstanceListError,
    ],
    [
      '[{"study":"1.2","series":"1.2.3","instance":"1.2.3.4"}, {"study":"1.2"}]',
      "l.json",
      /"l\.json" entry 2/,
      InstanceListError,
    ],
    [
      '[{"study":"1.2","series":"1.2.3","instance":"x"}]',
      "l.json",
      /"l\.json" entry 1 \(instance\)/,
      InvalidUidError,
    ],
    ["[1]", "l.json", /"l\.json" entry 1/, InstanceListError],
  ];
  for (const [text, file, message, type] of cases) {
    assert.throws(
      () => parseInstanceList(text, { file: file }),
      (e: unknown) => {
        assert.ok(e instanceof type, `${text}: ${e}`);
        assert.match((e as Error).message, message);
        return true;
      },
    );
  }
});

Deno.test(
  "Redactor.redact() hides header values, their credentials and URL-encoded forms",
  { timeout: 60_000 },
  () => {
    const r = new Redactor();
    r.add("Bearer abc.def/ghi");
    r.add("p@ss word");
    r.add("x");
    assert.equal(
      r.redact(
        "sent Bearer abc.def/ghi; token abc.def/ghi; p%40ss%20word; 1.2.3",
      ),
      "sent [REDACTED]; token [REDACTED]; [REDACTED]; 1.2.3",
    );
  },
);

Deno.test(
  "renderProgress() shows instances, bytes, rate and ETA within the width",
  { timeout: 60_000 },
  () => {
    const line = renderProgress({
      instancesTotal: 10,
      instancesDone: 5,
      delivered: 4,
      skipped: 0,
      failed: 1,
      bytesWritten: 4 * 1024 * 1024,
      bytesSkipped: 0,
      bytesReceived: 4 * 1024 * 1024,
      bytesEstimatedTotal: 9 * 1024 * 1024,
      elapsedMs: 2000,
    }, 100);
    assert.match(
      line,
      /^5\/10 \[#+-+\] {2}4\.00 MiB {2}2\.00 MiB\/s {2}ETA 0:03 {2}1 failed$/,
    );
    assert.ok(line.length <= 100);
    const narrow = renderProgress({
      instancesTotal: 10,
      instancesDone: 5,
      delivered: 5,
      skipped: 0,
      failed: 0,
      bytesWritten: 1,
      bytesSkipped: 0,
      bytesReceived: 1,
      bytesEstimatedTotal: 2,
      elapsedMs: 1000,
    }, 20);
    assert.ok(narrow.length < 20, narrow);
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.50 KiB");
    assert.equal(formatBytes(3 * 2 ** 30), "3.00 GiB");
    assert.equal(formatDuration(65_000), "1:05");
    assert.equal(formatDuration(3_723_000), "1:02:03");
  },
);

Deno.test(
  "isIgnored() matches server error codes and error classes with their bases",
  { timeout: 60_000 },
  () => {
    const missing = new XDSMissingDocumentError("gone", {
      code: "XDSMissingDocument",
    });
    assert.ok(isIgnored(missing, ["XDSMissingDocument"]));
    assert.ok(isIgnored(missing, ["XDSMissingDocumentError"]));
    assert.ok(isIgnored(missing, ["Rad69ServerError"]));
    assert.ok(!isIgnored(missing, ["SoapFaultError", "XDSRepositoryError"]));
    const other = new Rad69ServerError("x", { code: "urn:dicom:wado:0007" });
    assert.ok(isIgnored(other, ["urn:dicom:wado:0007"]));
    assert.ok(!isIgnored(other, []));
  },
);

// ---------------------------------------------------------------------------
// The command, run as a child process against the fake server.

Deno.test(
  "rad69 --help and --version print and exit 0",
  { timeout: 60_000 },
  async () => {
    const help = await rad69(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage:/);
    for (
      const option of [
        "--url",
        "--out",
        "--instances",
        "--header-env",
        "--resume",
        "--json",
      ]
    ) {
      assert.ok(help.stdout.includes(option), option);
    }
    const version = await rad69(["--version"]);
    assert.equal(version.code, 0);
    assert.equal(
      version.stdout.trim(),
      `rad69 (@rad69/client) ${denoConfig.version}`,
    );
  },
);

Deno.test("rad69 exits 2 on usage and input errors without sending a request", {
  timeout: 60_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const bad = join(dir, "bad.csv");
    await Deno.writeTextFile(
      bad,
      "study,series,instance\n1.2,1.2.3,1.2.3.4\n1.2,1.2.3\n",
    );
    const cases: [string[], RegExp][] = [
      [["--out", dir], /Nothing to download/],
      [["--out", dir, "1.2/1.2.3"], /STUDY\/SERIES\/INSTANCE/],
      [["--out", dir, "1.2/1.02/1.2.3"], /argument 1 \(series\)/],
      [["--out", dir, "--instances", bad], /bad\.csv" line 3/],
      [
        ["--out", dir, "--instances", join(dir, "nope.csv")],
        /Cannot read instance list ".*nope\.csv"/,
      ],
      [[
        "--out",
        dir,
        "--header-env",
        "Authorization=RAD69_UNSET_VAR",
        TRIPLETS[0]!,
      ], /"RAD69_UNSET_VAR"/],
      [
        ["--out", dir, "--transfer-syntax", "1.2.x", TRIPLETS[0]!],
        /--transfer-syntax 1/,
      ],
      [
        ["--out", dir, "--cert", "c.pem", "--key", "k.pem", TRIPLETS[0]!],
        /https/,
      ],
      [["--out", dir, "--concurrency", "x", TRIPLETS[0]!], /--concurrency "x"/],
    ];
    for (const [args, message] of cases) {
      const result = await rad69(["--url", server.url, ...args]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /rad69 --help/);
      assert.equal(result.stdout, "");
    }
    const noUrl = await rad69([TRIPLETS[0]!]);
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /Missing option --url/);
    assert.equal(server.requests.length, 0, "nothing was requested");
  });
});

Deno.test("rad69 downloads positional triplets and exits 0", {
  timeout: 60_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const result = await rad69([
      "--url",
      server.url,
      "--out",
      dir,
      ...TRIPLETS,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Downloaded 4 of 4 instance\(s\)/);
    assert.equal(result.stdout, "", "quiet stdout without --json");
    assert.ok(!result.stderr.includes("\r"), "no progress bar on a pipe");
    await assertDownloaded(dir);
    assert.equal(server.requests.length, 2, "one request per series");

    const out = join(dir, "concurrent");
    const concurrent = await rad69([
      "--url",
      server.url,
      "--out",
      out,
      "--concurrency",
      "2",
      ...TRIPLETS,
    ]);
    assert.equal(concurrent.code, 0, concurrent.stderr);
    await assertDownloaded(out);
    assert.equal(server.requests.length, 4);
  });
});

Deno.test(
  "rad69 --json prints one summary and exits 1 listing what was not delivered",
  { timeout: 60_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      const result = await rad69([
        "--url",
        server.url,
        "--out",
        dir,
        "--json",
        ...TRIPLETS,
        MISSING,
      ]);
      assert.equal(result.code, 1, result.stderr);
      const summary = JSON.parse(result.stdout) as CliSummary;
      assert.equal(summary.ok, false);
      assert.equal(summary.exitCode, 1);
      assert.equal(summary.version, denoConfig.version);
      assert.equal(summary.url, server.url);
      assert.equal(summary.requested, 5);
      assert.equal(summary.delivered, 4);
      assert.equal(summary.failed, 1);
      assert.equal(summary.ignored, 0);
      assert.equal(
        summary.totalBytes,
        STUDY.reduce((n, i) => n + i.bytes.length, 0),
      );
      assert.equal(summary.attempts.length, 2);
      assert.equal(summary.instances.length, 5);
      const failed = summary.instances.at(-1)!;
      assert.equal(failed.status, "failed");
      assert.equal(failed.instance, MISSING.split("/")[2]);
      assert.equal(failed.error?.name, "XDSMissingDocumentError");
      assert.equal(failed.error?.code, "XDSMissingDocument");
      assert.ok(
        summary.instances.slice(0, 4).every((i) =>
          i.status === "delivered" && i.bytes! > 0
        ),
      );
      await assertDownloaded(dir);

      const human = await rad69([
        "--url",
        server.url,
        "--out",
        dir,
        ...TRIPLETS,
        MISSING,
      ]);
      assert.equal(human.code, 1);
      assert.match(human.stderr, /Not delivered \(1\):/);
      const line = human.stderr.split("\n").find((l) => l.includes(MISSING))!;
      assert.ok(
        line.includes(`${MISSING}: XDSMissingDocumentError: Instance`),
        human.stderr,
      );
      // The code is said once (the class name aside), not three times.
      assert.equal(line.match(/XDSMissingDocument\b/g)?.length, 1, line);
    });
  },
);

Deno.test("rad69 --ignore turns matching failures into exit 0", {
  timeout: 60_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    for (const ignore of ["XDSMissingDocument", "XDSMissingDocumentError"]) {
      const result = await rad69([
        "--url",
        server.url,
        "--out",
        dir,
        "--json",
        "--ignore",
        ignore,
        TRIPLETS[0]!,
        MISSING,
      ]);
      assert.equal(result.code, 0, result.stderr);
      const summary = JSON.parse(result.stdout) as CliSummary;
      assert.equal(summary.ok, true);
      assert.equal(summary.failed, 1);
      assert.equal(summary.ignored, 1);
      assert.equal(summary.instances[1]!.ignored, true);
    }
    const other = await rad69([
      "--url",
      server.url,
      "--out",
      dir,
      "--ignore",
      "SoapFaultError",
      MISSING,
    ]);
    assert.equal(other.code, 1);
  });
});

Deno.test(
  "rad69 --instances reads CSV and JSON files; --resume skips what is there",
  { timeout: 60_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      const csv = join(dir, "list.csv");
      await Deno.writeTextFile(
        csv,
        [
          "# two instances",
          "study,series,instance",
          ...STUDY.slice(0, 2).map((i) =>
            `${i.studyUid},${i.seriesUid},${i.instanceUid}`
          ),
          "",
        ].join("\n"),
      );
      const json = join(dir, "list.json");
      await Deno.writeTextFile(
        json,
        JSON.stringify(STUDY.map((i) => ({
          study: i.studyUid,
          series: i.seriesUid,
          instance: i.instanceUid,
        }))),
      );
      const out = join(dir, "out");
      const first = await rad69([
        "--url",
        server.url,
        "--out",
        out,
        "--instances",
        csv,
      ]);
      assert.equal(first.code, 0, first.stderr);
      await assertDownloaded(out, 2);
      server.clearRequests();
      const second = await rad69([
        "--url",
        server.url,
        "--out",
        out,
        "--instances",
        json,
        "--resume",
        "--json",
      ]);
      assert.equal(second.code, 0, second.stderr);
      const summary = JSON.parse(second.stdout) as CliSummary;
      assert.equal(summary.skipped, 2);
      assert.equal(summary.delivered, 2);
      assert.deepEqual(
        server.requests.flatMap((r) => r.documentUniqueIds).sort(),
        STUDY.slice(2).map((i) => i.instanceUid).sort(),
      );
      await assertDownloaded(out);
    });
  },
);

Deno.test(
  "rad69 sends request options: --transfer-syntax, --no-split-series, --header",
  { timeout: 60_000 },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({ instances: STUDY });
      const result = await rad69([
        "--url",
        server.url,
        "--out",
        dir,
        "--transfer-syntax",
        "1.2.840.10008.1.2.1",
        "--no-split-series",
        "--header",
        "X-Trace: cli-test",
        ...TRIPLETS,
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(server.requests.length, 1, "one request for both series");
      assert.deepEqual(server.requests[0]!.transferSyntaxes, [
        "1.2.840.10008.1.2.1",
      ]);
      assert.equal(server.requests[0]!.headers.get("x-trace"), "cli-test");
    });
  },
);

Deno.test(
  "rad69 never prints secrets from --header-env, --header or URL credentials",
  { timeout: 60_000 },
  async () => {
    await withDir(async (dir) => {
      const secret = "Bearer eyJhbGciOi.s3cr3t-T0KEN";
      const apiKey = "k3y-0f-the-api";
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        // A server that echoes what it got in its error page.
        onRequest: (request) => ({
          http: {
            status: 401,
            body: `Denied: ${request.headers.get("authorization")} ${
              request.headers.get("x-api-key")
            } ${encodeURIComponent(secret)}`,
          },
        }),
      });
      const result = await rad69([
        "--url",
        server.url,
        "--out",
        dir,
        "--json",
        "--retries",
        "0",
        "--log-level",
        "debug",
        "--header-env",
        "Authorization=RAD69_TEST_SECRET",
        "--header",
        `X-Api-Key: ${apiKey}`,
        TRIPLETS[0]!,
      ], { env: { RAD69_TEST_SECRET: secret } });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(
        server.requests[0]!.headers.get("authorization"),
        secret,
        "the header was sent",
      );
      for (const text of [result.stdout, result.stderr]) {
        assert.ok(!text.includes("s3cr3t"), text);
        assert.ok(!text.includes(apiKey), text);
      }
      const summary = JSON.parse(result.stdout) as CliSummary;
      assert.equal(summary.instances[0]!.error?.name, "Rad69HttpError");
      assert.equal(summary.instances[0]!.error?.status, 401);
      // Redacted by the client or by the CLI.
      assert.match(
        summary.instances[0]!.error!.message,
        /Denied: \[REDACTED\]/,
      );

      const url = new URL(server.url);
      url.username = "radiologist";
      url.password = "pa55-w0rd!";
      url.searchParams.set("access_token", "t0k3n-in-query");
      const basic = await rad69([
        "--url",
        url.href,
        "--out",
        dir,
        "--json",
        "--retries",
        "0",
        "--log-level",
        "debug",
        TRIPLETS[0]!,
      ]);
      assert.equal(basic.code, 1);
      assert.equal(
        server.requests[1]!.headers.get("authorization"),
        `Basic ${btoa("radiologist:pa55-w0rd!")}`,
      );
      for (const text of [basic.stdout, basic.stderr]) {
        assert.ok(!text.includes("pa55"), text);
        assert.ok(!text.includes(btoa("radiologist:pa55-w0rd!")), text);
        assert.ok(!text.includes("t0k3n-in-query"), text);
      }
      assert.equal(
        (JSON.parse(basic.stdout) as CliSummary).url,
        `${server.url}?access_token=[REDACTED]`,
      );
    });
  },
);

Deno.test("rad69 reports every attempt of a retried request in --json", {
  timeout: 60_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    server.enqueue({ http: { status: 503, headers: { "retry-after": "0" } } });
    const result = await rad69([
      "--url",
      server.url,
      "--out",
      dir,
      "--json",
      TRIPLETS[0]!,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as CliSummary;
    assert.equal(summary.attempts.length, 2);
    assert.equal(summary.attempts[0]!.retrying, 1);
    assert.equal(summary.attempts[0]!.error?.status, 503);
    assert.equal(summary.attempts[1]!.delivered, 1);
  });
});

Deno.test("rad69 names the missing --allow-* flag and exits 2", {
  timeout: 60_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const noWrite = await rad69([
      "--url",
      server.url,
      "--out",
      dir,
      TRIPLETS[0]!,
    ], {
      permissions: ["--allow-net=127.0.0.1", "--allow-read", "--allow-env"],
    });
    assert.equal(noWrite.code, 2, noWrite.stderr);
    assert.match(noWrite.stderr, /--allow-write/);
    const noNet = await rad69(
      ["--url", server.url, "--out", dir, TRIPLETS[0]!],
      {
        permissions: ["--allow-read", "--allow-write", "--allow-env"],
      },
    );
    assert.equal(noNet.code, 2, noNet.stderr);
    assert.match(
      noNet.stderr,
      new RegExp(`--allow-net=127\\.0\\.0\\.1:${server.port}`),
    );
    const noEnv = await rad69([
      "--url",
      server.url,
      "--out",
      dir,
      "--header-env",
      "Authorization=RAD69_X",
      TRIPLETS[0]!,
    ], {
      permissions: ["--allow-net=127.0.0.1", "--allow-read", "--allow-write"],
    });
    assert.equal(noEnv.code, 2, noEnv.stderr);
    assert.match(noEnv.stderr, /--allow-env=RAD69_X/);
    assert.equal(server.requests.length, 0);
  });
});

Deno.test(
  "examples/demo.ts (deno task demo) downloads the synthetic study, then resumes it",
  {
    timeout: 60_000,
  },
  async () => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        ...FULL_PERMISSIONS,
        new URL("../examples/demo.ts", import.meta.url).pathname,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr) + out);
    assert.match(out, /Downloaded 24 of 24 instance\(s\)/);
    assert.match(out, /all 24 instance\(s\) are already in/);
    assert.match(out, /requests sent by the resumed run: 0/);
    assert.match(out, /24 files/);
  },
);

Deno.test("parseCliArgs() reads --no-must-understand", () => {
  const on = parseCliArgs(["--url", "http://x/rad69"]);
  assert.equal(on.kind === "run" && on.options.mustUnderstand, true);
  const off = parseCliArgs(["--url", "http://x/rad69", "--no-must-understand"]);
  assert.equal(off.kind === "run" && off.options.mustUnderstand, false);
  assert.match(HELP_TEXT, /--no-must-understand/);
});

Deno.test(
  "rad69 --no-must-understand reaches a server that does not process WS-Addressing",
  {
    timeout: 60_000,
  },
  async () => {
    await withDir(async (dir) => {
      await using server = await FakeRad69Server.start({
        instances: STUDY,
        processAddressing: false,
      });
      const refused = await rad69([
        "--url",
        server.url,
        "--out",
        dir,
        "--retries",
        "0",
        TRIPLETS[0]!,
      ]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /MustUnderstand/);
      assert.match(refused.stderr, /--no-must-understand/);
      const sent = server.requests.length;
      assert.ok(sent >= 1);
      assert.match(server.requests[0]!.soapXml, /mustUnderstand="1"/);

      const result = await rad69([
        "--url",
        server.url,
        "--out",
        dir,
        "--no-must-understand",
        ...TRIPLETS,
      ]);
      assert.equal(result.code, 0, result.stderr);
      await assertDownloaded(dir);
      assert.ok(server.requests.slice(sent).every((r) => r.valid));
      assert.ok(
        server.requests.slice(sent).every((r) =>
          !r.soapXml.includes("mustUnderstand")
        ),
      );
    });
  },
);
