/**
 * `deno task demo`: starts the bundled fake RAD-69 server on loopback with a
 * synthetic study, downloads it with the `rad69` CLI into a temporary
 * folder, downloads it again with `--resume` (nothing is fetched twice), and
 * prints what happened and the files it wrote. `--keep` keeps the folder.
 *
 * ```sh
 * deno task demo
 * deno task demo --keep
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { runCli } from "../src/cli/main.ts";
import { formatBytes } from "../src/cli/progress_bar.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import denoConfig from "../deno.json" with { type: "json" };

const SERIES = 3;
const PER_SERIES = 8;
const encoder = new TextEncoder();

/** Prints a line on stdout. */
function say(text = ""): void {
  Deno.stdout.writeSync(encoder.encode(`${text}\n`));
}

/** Prints the folder tree under `dir`, at most `perFolder` files a folder. */
async function printTree(
  dir: string,
  perFolder = 3,
  indent = "  ",
): Promise<number> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.startsWith(".")) entries.push(entry); // .rad69: lock, journal
  }
  entries.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
  let count = 0;
  const files = entries.filter((e) => e.isFile);
  for (const entry of entries.filter((e) => e.isDirectory)) {
    say(`${indent}${entry.name}/`);
    count += await printTree(join(dir, entry.name), perFolder, `${indent}  `);
  }
  for (const [i, entry] of files.entries()) {
    if (i === perFolder) {
      say(`${indent}… and ${files.length - perFolder} more`);
      break;
    }
    const size = (await Deno.stat(join(dir, entry.name))).size;
    say(`${indent}${entry.name}  ${formatBytes(size)}`);
  }
  return count + files.length;
}

/** Runs the demo. */
async function demo(keep: boolean): Promise<number> {
  const study = syntheticStudy({
    series: SERIES,
    instancesPerSeries: PER_SERIES,
    pixelBytes: 512 * 512 * 2,
    pixelContent: "random",
  });
  await using server = await FakeRad69Server.start({
    instances: study,
    dialect: "cxf",
    // A little latency and a bandwidth cap so the progress bar shows.
    plan: { latencyMs: 50, bytesPerSecond: 24 * 1024 * 1024 },
  });
  const dir = await Deno.makeTempDir({ prefix: "rad69-demo-" });
  try {
    const list = join(dir, "instances.csv");
    await Deno.writeTextFile(
      list,
      [
        "study,series,instance",
        ...study.map((i) => `${i.studyUid},${i.seriesUid},${i.instanceUid}`),
        "",
      ].join("\n"),
    );
    const out = join(dir, "dicom");
    const size = study.reduce((n, i) => n + i.bytes.length, 0);
    say(`Fake RAD-69 server (dcm4chee-arc framing) at ${server.url}`);
    say(
      `Serving 1 study, ${SERIES} series, ${study.length} CT instances (${
        formatBytes(size)
      }); the list is in ${list}`,
    );
    say();
    // The CLI's messages go to stdout here, in order with the demo's own.
    const cli = {
      version: denoConfig.version,
      handleSignals: true,
      stderr: (text: string) => Deno.stdout.writeSync(encoder.encode(text)),
      stderrIsTerminal: Deno.stdout.isTerminal(),
    };
    const args = ["--url", server.url, "--out", out, "--instances", list];
    say(`$ rad69 ${args.join(" ")}`);
    const first = await runCli(args, cli);
    say(`exit status ${first}`);
    say();
    say(`$ rad69 ${[...args, "--resume"].join(" ")}`);
    const requestsBefore = server.requests.length;
    const second = await runCli([...args, "--resume"], cli);
    say(
      `exit status ${second}; requests sent by the resumed run: ${
        server.requests.length - requestsBefore
      }`,
    );
    say();
    say(`${out}/`);
    const count = await printTree(out);
    say(
      `${count} files, each verified (SOP Instance UID) and renamed when complete.`,
    );
    say();
    say(
      `The server received ${server.requests.length} RAD-69 requests (one per series, then none on resume).`,
    );
    say(
      keep
        ? `Kept ${dir}`
        : `Removing ${dir} (run "deno task demo --keep" to keep it)`,
    );
    return first === 0 && second === 0 ? 0 : 1;
  } finally {
    if (!keep) await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  Deno.exit(await demo(Deno.args.includes("--keep")));
}
