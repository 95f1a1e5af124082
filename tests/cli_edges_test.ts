/**
 * The edges a user meets first: paths relative to the user's folder under
 * `deno task cli`, installing from a checkout, the fake server command, and
 * the messages of usage errors.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CLI_FLAGS, HELP_TEXT, parseCliArgs } from "../src/cli/args.ts";
import { runCli } from "../src/cli/main.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import denoConfig from "../deno.json" with { type: "json" };

Deno.test.sanitizer({ ops: true, resources: true });

const ROOT = new URL("..", import.meta.url).pathname;
const CONFIG = join(ROOT, "deno.json");
const STUDY = syntheticStudy({ series: 2, instancesPerSeries: 2, seed: 5 });
const TRIPLET = `${STUDY[0]!.studyUid}/${STUDY[0]!.seriesUid}/${
  STUDY[0]!.instanceUid
}`;
const decoder = new TextDecoder();

/**
 * The environment of a fresh shell: this one without `INIT_CWD`, which an
 * outer `deno task test` sets and an inner `deno task` keeps (Deno, like
 * npm, does not override it).
 */
function freshShellEnv(extra: Record<string, string> = {}) {
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  return { ...env, NO_COLOR: "1", ...extra };
}

/** Runs a command and returns its status and output. */
async function run(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    clearEnv: true,
    env: freshShellEnv(options.env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Runs the CLI in this process, capturing its output. */
async function cli(args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(args, {
    version: denoConfig.version,
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    stderrIsTerminal: false,
  });
  return { code, stdout: stdout.join(""), stderr: stderr.join("") };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-edges-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deno task cli resolves relative paths against the user's folder", {
  timeout: 120_000,
}, async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    await Deno.writeTextFile(
      join(dir, "list.csv"),
      [
        "study,series,instance",
        ...STUDY.map((i) => `${i.studyUid},${i.seriesUid},${i.instanceUid}`),
      ].join("\n"),
    );
    const result = await run([
      "task",
      "--quiet",
      "--config",
      CONFIG,
      "cli",
      "--url",
      server.url,
      "--instances",
      "./list.csv",
      "--out",
      "./dicom",
      "--json",
    ], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.out, join(dir, "dicom"));
    for (const i of STUDY) {
      const file = join(
        dir,
        "dicom",
        i.studyUid,
        i.seriesUid,
        `${i.instanceUid}.dcm`,
      );
      assert.equal((await Deno.stat(file)).size, i.bytes.length);
    }
    await assert.rejects(Deno.stat(join(ROOT, "dicom")), Deno.errors.NotFound);
  });
});

Deno.test("the CLI installs from a checkout as the README says, and runs", {
  timeout: 120_000,
}, async () => {
  await withDir(async (root) => {
    // The README's route: deno task install, i.e. this command.
    const install = await run([
      "install",
      "-g",
      "-f",
      "--root",
      root,
      "--config",
      "deno.json",
      "-N",
      "-R",
      "-W",
      "-E",
      "-n",
      "rad69",
      "./cli.ts",
    ]);
    assert.equal(install.code, 0, install.stderr);
    const task = (denoConfig.tasks as Record<string, { command: string }>)
      .install!.command;
    assert.match(
      task,
      /deno install -g -f --config deno\.json .* \.\/cli\.ts$/,
    );
    const bin = join(
      root,
      "bin",
      Deno.build.os === "windows" ? "rad69.cmd" : "rad69",
    );
    const out = await new Deno.Command(bin, {
      args: ["--version"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      env: { PATH: `${join(Deno.execPath(), "..")}:${Deno.env.get("PATH")}` },
    }).output();
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    assert.equal(
      decoder.decode(out.stdout).trim(),
      `rad69 (@rad69/client) ${denoConfig.version}`,
    );
  });
});

Deno.test("every deno.json task has a description", () => {
  for (const [name, task] of Object.entries(denoConfig.tasks)) {
    assert.equal(typeof task, "object", name);
    const { description, command } = task as {
      description?: string;
      command?: string;
    };
    assert.ok(description && description.length > 10, name);
    assert.ok(command, name);
  }
});

Deno.test(
  "deno task fake-server prints its URL, writes a list, serves the CLI and stops on SIGINT",
  {
    timeout: 120_000,
  },
  async () => {
    await withDir(async (dir) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "task",
          "--quiet",
          "--config",
          CONFIG,
          "fake-server",
          "--series",
          "2",
          "--instances-per-series",
          "3",
          "--missing",
          "1",
          "--dialect",
          "vitrea",
          "--instances",
          "list.csv",
        ],
        cwd: dir,
        clearEnv: true,
        env: freshShellEnv(),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let first = "";
      while (!first.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) break;
        first += value;
      }
      const url = first.split("\n")[0]!;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/rad69$/);
      const list = await Deno.readTextFile(join(dir, "list.csv"));
      assert.equal(list.trim().split("\n").length, 7); // header + 6

      const result = await cli([
        "--url",
        url,
        "--instances",
        join(dir, "list.csv"),
        "--out",
        join(dir, "dicom"),
        "--json",
      ]);
      assert.equal(result.code, 1, result.stderr);
      const summary = JSON.parse(result.stdout);
      assert.equal(summary.delivered, 5);
      assert.equal(summary.instances.at(-1).error.code, "XDSMissingDocument");

      // Ctrl-C: the task and the server stop cleanly.
      child.kill("SIGINT");
      const status = await child.status;
      lines.releaseLock();
      await child.stdout.cancel().catch(() => {});
      const stderr = decoder.decode(
        await new Response(child.stderr).arrayBuffer(),
      );
      assert.match(stderr, /Stopped after 2 request\(s\)/, stderr);
      assert.ok(
        status.success || status.signal === "SIGINT",
        String(status.code),
      );
    });
  },
);

Deno.test("rad69 names an unknown flag and suggests the closest one", async () => {
  const typo = await cli([
    "--url",
    "http://127.0.0.1:9/rad69",
    "--concurency",
    "3",
  ]);
  assert.equal(typo.code, 2);
  assert.match(
    typo.stderr,
    /Unknown option "--concurency": did you mean --concurrency\?/,
  );
  assert.doesNotMatch(typo.stderr, /positional argument|'/);
  const negative = await cli([
    "--url",
    "http://x/rad69",
    "--concurrency",
    "-3",
  ]);
  assert.match(
    negative.stderr,
    /Invalid option --concurrency "-3": expected a whole number from 1 to 64/,
  );
  const missing = await cli(["--url", "http://x/rad69", "--out", "--json"]);
  assert.match(missing.stderr, /Missing value for option --out: expected DIR/);
  assert.throws(() => parseCliArgs(["--no-split-serie"]), /--no-split-series/);
  assert.throws(() => parseCliArgs(["--json=yes"]), /takes no value/);
  assert.throws(() => parseCliArgs(["-x"]), /Unknown option "-x"/);
});

Deno.test("every flag of the table is in the --help text", () => {
  for (const flag of CLI_FLAGS) {
    assert.ok(HELP_TEXT.includes(`--${flag.name}`), flag.name);
  }
});

Deno.test("rad69 --ignore rejects unknown codes and classes with the known ones", async () => {
  const bogus = await cli([
    "--url",
    "http://127.0.0.1:9/rad69",
    "--ignore",
    "Bogus",
    TRIPLET,
  ]);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /--ignore "Bogus": not an error class or code/);
  assert.match(bogus.stderr, /XDSMissingDocumentError/);
  assert.match(bogus.stderr, /XDSMissingDocument,/);
  const typo = await cli([
    "--url",
    "http://127.0.0.1:9/rad69",
    "--ignore",
    "XDSMissingDocumnt",
    TRIPLET,
  ]);
  assert.match(typo.stderr, /did you mean "XDSMissingDocument"/);
  for (
    const ok of [
      "XDSMissingDocument",
      "urn:dicom:wado:0017",
      "env:Receiver",
      "SoapFaultError",
    ]
  ) {
    assert.doesNotThrow(() =>
      parseCliArgs(["--url", "http://x", "--ignore", ok])
    );
  }
});

Deno.test("rad69 --out naming a file or an impossible folder is a usage error before any request", async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "x");
    const cases: [string, RegExp][] = [
      [file, /--out ".*a-file": it is a file, not a folder/],
      [
        join(file, "sub"),
        /--out ".*a-file\/sub": cannot (create the folder|use it)/,
      ],
    ];
    if (Deno.build.os === "linux") {
      cases.push([
        "/proc/x",
        /--out "\/proc\/x": it is inside \/proc, a system folder/,
      ]);
    }
    for (const [out, message] of cases) {
      const result = await cli([
        "--url",
        server.url,
        "--out",
        out,
        "--json",
        TRIPLET,
      ]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /--allow-all|run again/);
      const json = JSON.parse(result.stdout);
      assert.equal(json.ok, false);
      assert.equal(json.exitCode, 2);
    }
    assert.equal(server.requests.length, 0);
  });
});

Deno.test("rad69 --json prints a JSON object on every exit", async () => {
  const cases: [string[], number][] = [
    [["--json", "--bogus"], 2],
    [["--json"], 2],
    [["--json", "--url", "http://127.0.0.1:9/rad69"], 2],
    [["--json", "--version"], 0],
    [["--json", "--help"], 0],
  ];
  for (const [args, code] of cases) {
    const result = await cli(args);
    assert.equal(result.code, code, args.join(" "));
    const json = JSON.parse(result.stdout);
    assert.equal(json.exitCode, code);
    assert.equal(json.ok, code === 0);
    if (code !== 0) {
      assert.equal(typeof json.error.message, "string");
      assert.equal(typeof json.error.name, "string");
    }
  }
  // A download that cannot even start (connection refused) still ends in JSON.
  await withDir(async (dir) => {
    const refused = await cli([
      "--json",
      "--retries",
      "0",
      "--url",
      "http://127.0.0.1:9/rad69",
      "--out",
      dir,
      TRIPLET,
    ]);
    assert.equal(refused.code, 1);
    const json = JSON.parse(refused.stdout);
    assert.equal(json.ok, false);
    assert.equal(json.delivered, 0);
    // Nothing delivered: no rate for 0 B.
    const human = await cli([
      "--retries",
      "0",
      "--url",
      "http://127.0.0.1:9/rad69",
      "--out",
      dir,
      TRIPLET,
    ]);
    assert.match(
      human.stderr,
      /Downloaded 0 of 1 instance\(s\) \(0 B\) to .* s\n/,
    );
    assert.doesNotMatch(human.stderr, /\/s\)/);
  });
});

Deno.test("rad69 reports a broken JSON instance list with its position", async () => {
  await withDir(async (dir) => {
    const list = join(dir, "list.json");
    await Deno.writeTextFile(
      list,
      '[\n  {"study": "1.2" "series": "1.2.3"}\n]\n',
    );
    const result = await cli([
      "--url",
      "http://127.0.0.1:9/rad69",
      "--out",
      dir,
      "-i",
      list,
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /list\.json" line 2 column 19: not valid JSON/);
    assert.doesNotMatch(result.stderr, /expected 3 fields/);
  });
});

Deno.test("rad69 says which series a retried attempt was for", async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    server.enqueue({ http: { status: 503 } });
    const args = [
      "--url",
      server.url,
      "--out",
      dir,
      "--no-progress",
      "--log-level",
      "silent",
    ];
    const triplets = STUDY.map((i) =>
      `${i.studyUid}/${i.seriesUid}/${i.instanceUid}`
    );
    const json = await cli([...args, "--json", ...triplets]);
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout);
    const retried = summary.attempts.find((a: { retrying: number }) =>
      a.retrying > 0
    );
    assert.equal(retried.series, STUDY[0]!.seriesUid);
    assert.equal(retried.study, STUDY[0]!.studyUid);
    server.enqueue({ http: { status: 503 } });
    const human = await cli([...args, ...triplets]);
    assert.match(
      human.stderr,
      new RegExp(
        `attempt 1 of series ${
          STUDY[0]!.seriesUid.replaceAll(".", "\\.")
        }: 0 of 2 delivered, 2 retried`,
      ),
    );
  });
});

Deno.test("rad69 --layout writes the template's paths, sanitised", async () => {
  await withDir(async (dir) => {
    await using server = await FakeRad69Server.start({ instances: STUDY });
    const triplets = STUDY.map((i) =>
      `${i.studyUid}/${i.seriesUid}/${i.instanceUid}`
    );
    const result = await cli([
      "--url",
      server.url,
      "--out",
      dir,
      "--layout",
      "{PatientID}/{Modality}_{SeriesNumber:03}/{InstanceNumber:04}_{SOPInstanceUID}.dcm",
      "--json",
      ...triplets,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    for (const entry of summary.instances) {
      assert.match(entry.path, /\/[^/]+\/CT_00[12]\/\d{4}_[0-9.]+\.dcm$/);
      assert.ok((await Deno.stat(entry.path)).isFile);
    }
    const collide = await cli([
      "--url",
      server.url,
      "--out",
      join(dir, "c"),
      "--layout",
      "{PatientID}/{Modality}.dcm",
      "--json",
      ...triplets,
    ]);
    assert.equal(collide.code, 1);
    const failed = JSON.parse(collide.stdout).instances.filter((
      i: { status: string },
    ) => i.status === "failed");
    assert.equal(failed.length, 3);
    assert.equal(failed[0].error.name, "LayoutError");
    const bad = await cli([
      "--url",
      server.url,
      "--out",
      dir,
      "--layout",
      "{PatientsName}.dcm",
      TRIPLET,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /did you mean "PatientName"/);
  });
});
