/**
 * The XDS-I.b modes of the CLI, run in process against fakes on loopback:
 * `--kos`, `--registry --patient`, `--gateway`, `--dry-run`,
 * `--saml-assertion`, and their usage errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../src/cli/main.ts";
import {
  buildKos,
  type FakeInstance,
  FakeRad69Server,
  FakeXdsGateway,
  FakeXdsRegistry,
  syntheticStudy,
} from "../src/testing/mod.ts";

const PATIENT = "PID-7^^^&1.2.840.99.7&ISO";
const REPOSITORY = "1.2.840.99.100";
const SOURCE = "1.2.840.99.201";
const WSSE =
  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    version: "test",
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    stderrIsTerminal: false,
  });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

function kosFor(study: readonly FakeInstance[], uid: string): FakeInstance {
  const seriesUids = [...new Set(study.map((i) => i.seriesUid))];
  const bytes = buildKos({
    sopInstanceUid: uid,
    studies: [{
      studyUid: study[0]!.studyUid,
      series: seriesUids.map((seriesUid) => ({
        seriesUid,
        repositoryUniqueId: SOURCE,
        instances: study.filter((i) => i.seriesUid === seriesUid),
      })),
    }],
  });
  return {
    studyUid: study[0]!.studyUid,
    seriesUid: `${uid}.1`,
    instanceUid: uid,
    bytes,
  };
}

async function withTemp(run: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rad69 --kos FILE --source UID=URL downloads what the manifest lists", async () => {
  const study = syntheticStudy({ series: 2, instancesPerSeries: 2, seed: 11 });
  await using source = await FakeRad69Server.start({ instances: study });
  await withTemp(async (dir) => {
    const kos = join(dir, "manifest.dcm");
    await Deno.writeFile(kos, kosFor(study, "1.2.840.99.9.1").bytes);
    const out = join(dir, "out");
    const r = await cli([
      "--kos",
      kos,
      "--source",
      `${SOURCE}=${source.url}`,
      "--out",
      out,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.delivered, 4);
    assert.equal(summary.manifests[0].status, "given");
    assert.equal(summary.sources[0].repositoryUniqueId, SOURCE);
    for (const i of study) {
      const path = join(out, i.studyUid, i.seriesUid, `${i.instanceUid}.dcm`);
      assert.deepEqual(await Deno.readFile(path), i.bytes);
    }
  });
});

Deno.test("rad69 --kos with an unmapped source exits 2 naming the UID, requesting nothing", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 2, seed: 12 });
  await using source = await FakeRad69Server.start({ instances: study });
  await withTemp(async (dir) => {
    const kos = join(dir, "manifest.dcm");
    await Deno.writeFile(kos, kosFor(study, "1.2.840.99.9.2").bytes);
    const r = await cli([
      "--kos",
      kos,
      "--source",
      `1.2.3.4=${source.url}`,
      "--out",
      join(dir, "o"),
      "--json",
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /Retrieve Location UID 1\.2\.840\.99\.201 \(2 instances in 1 series\)/,
    );
    assert.equal(JSON.parse(r.stdout).error.name, "UnknownSourceError");
    assert.equal(source.requests.length, 0);
  });
});

Deno.test("rad69 --kos on a file that is not a KOS exits 2 naming the file", async () => {
  const study = syntheticStudy({ series: 1, instancesPerSeries: 1, seed: 13 });
  await withTemp(async (dir) => {
    const kos = join(dir, "image.dcm");
    await Deno.writeFile(kos, study[0]!.bytes!);
    const r = await cli([
      "--kos",
      kos,
      "--url",
      "http://127.0.0.1:9/x",
      "--out",
      dir,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /image\.dcm.*not a KOS|image\.dcm.*Key Object/i);
  });
});

/** A registry, a repository and a source for one patient. */
async function patientDomain(
  seed: number,
  options: { requireAssertion?: string } = {},
) {
  const study = syntheticStudy({ series: 2, instancesPerSeries: 2, seed });
  const kos = kosFor(study, `1.2.840.99.9.${seed}`);
  const auth = options.requireAssertion
    ? { requireAssertion: options.requireAssertion }
    : {};
  const source = await FakeRad69Server.start({ instances: study, ...auth });
  const repository = await FakeRad69Server.start({ instances: [kos], ...auth });
  const registry = await FakeXdsRegistry.start({
    ...auth,
    documents: [{
      patientId: PATIENT,
      uniqueId: kos.instanceUid,
      repositoryUniqueId: REPOSITORY,
    }],
  });
  return {
    study,
    kos,
    source,
    repository,
    registry,
    async [Symbol.asyncDispose]() {
      await Promise.all([source.close(), repository.close(), registry.close()]);
    },
  };
}

/** The registry, patient, repository and source flags of a patient domain. */
function patientArgs(
  d: {
    registry: { url: string };
    repository: { url: string };
    source: { url: string };
  },
  patient = PATIENT,
): string[] {
  return [
    "--registry",
    d.registry.url,
    "--patient",
    patient,
    "--repository",
    d.repository.url,
    "--url",
    d.source.url,
  ];
}

Deno.test("rad69 --registry --patient --repository --url: ITI-18, ITI-43, RAD-69 to files", async () => {
  await using d = await patientDomain(21);
  await withTemp(async (dir) => {
    const r = await cli([
      "--registry",
      d.registry.url,
      "--patient",
      PATIENT,
      "--repository",
      `${REPOSITORY}=${d.repository.url}`,
      "--url",
      d.source.url,
      "--out",
      dir,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.delivered, 4);
    assert.equal(summary.manifests[0].status, "fetched");
    assert.deepEqual(
      await Deno.readFile(join(dir, "manifests", `${d.kos.instanceUid}.dcm`)),
      d.kos.bytes,
    );
  });
});

Deno.test("rad69 --dry-run prints the plan and requests no image", async () => {
  await using d = await patientDomain(22);
  await withTemp(async (dir) => {
    const out = join(dir, "never");
    const r = await cli([
      ...patientArgs(d),
      "--out",
      out,
      "--dry-run",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /Plan \(no image requested\): 1 manifest\(s\), 1 study\(ies\), 2 series, 4 instance\(s\) from 1 source\(s\)/,
    );
    assert.equal(d.source.requests.length, 0);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  });
});

Deno.test("rad69 --patient with no documents exits 1 saying so", async () => {
  await using d = await patientDomain(23);
  await withTemp(async (dir) => {
    const r = await cli([
      "--registry",
      d.registry.url,
      "--patient",
      "NOBODY^^^&1.2.840.99.7&ISO",
      "--repository",
      d.repository.url,
      "--url",
      d.source.url,
      "--out",
      dir,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No KOS manifest found/);
  });
});

Deno.test("rad69 --saml-assertion FILE sends the file's header to every endpoint, never prints it", async () => {
  await using d = await patientDomain(24, {
    requireAssertion: "_cli-assertion-1",
  });
  await withTemp(async (dir) => {
    const file = join(dir, "assertion.xml");
    await Deno.writeTextFile(
      file,
      `<wsse:Security xmlns:wsse="${WSSE}"><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_cli-assertion-1" Version="2.0"><saml2:Subject>secret-subject-9931</saml2:Subject></saml2:Assertion></wsse:Security>`,
    );
    const r = await cli([
      ...patientArgs(d),
      "--saml-assertion",
      file,
      "--out",
      join(dir, "o"),
      "--json",
      "--log-level",
      "debug",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).delivered, 4);
    assert.ok(!(r.stdout + r.stderr).includes("secret-subject-9931"));
    assert.ok(d.registry.requests[0]!.soapXml.includes("_cli-assertion-1"));
    assert.ok(
      d.source.requests.every((q) => q.soapXml.includes("_cli-assertion-1")),
    );
  });
});

Deno.test("XDS usage errors name what is missing", async () => {
  const cases: [string[], RegExp][] = [
    [["--patient", PATIENT, "--url", "http://h/x"], /--registry URL/],
    [
      ["--registry", "http://h/r", "--patient", PATIENT, "--url", "http://h/x"],
      /--repository/,
    ],
    [["--kos", "a.dcm"], /--url or --source/],
    [
      ["--kos", "a.dcm", "--source", "nope", "--url", "http://h/x"],
      /--source "nope": expected UID=URL/,
    ],
    [["--gateway", "http://h/g", "--patient", PATIENT], /--home-community-id/],
    [
      ["--kos", "a.dcm", "--patient", PATIENT, "--url", "http://h/x"],
      /one or the other/,
    ],
    [[
      "--registry",
      "http://h/r",
      "--patient",
      PATIENT,
      "--repository",
      "http://h/p",
      "--url",
      "http://h/x",
      "--since",
      "2024-13-01",
    ], /--since "2024-13-01"/],
    [
      ["--kos", "a.dcm", "--url", "http://user:pw@h/x"],
      /credentials in the URL/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli([...args, "--out", "/tmp/rad69-never"]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, pattern, args.join(" "));
  }
});

Deno.test("rad69 --saml-assertion re-reads the file for every request (a renewed assertion is used)", async () => {
  const study = syntheticStudy({ series: 3, instancesPerSeries: 1, seed: 31 });
  await withTemp(async (dir) => {
    const file = join(dir, "assertion.xml");
    const header = (id: string) =>
      `<wsse:Security xmlns:wsse="${WSSE}"><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0"/></wsse:Security>`;
    await Deno.writeTextFile(file, header("_first"));
    let current = "_first";
    const seen: string[] = [];
    await using source = await FakeRad69Server.start({
      instances: study,
      // The STS renews the file after the first request; the old one expires.
      requireAssertion: (id) => {
        seen.push(id);
        const ok = id === current;
        if (ok && current === "_first") {
          current = "_second";
          Deno.writeTextFileSync(file, header("_second"));
        }
        return ok;
      },
    });
    const kos = join(dir, "manifest.dcm");
    await Deno.writeFile(kos, kosFor(study, "1.2.840.99.9.31").bytes);
    const r = await cli([
      "--kos",
      kos,
      "--url",
      source.url,
      "--saml-assertion",
      file,
      "--out",
      join(dir, "o"),
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).delivered, 3);
    assert.deepEqual(seen, ["_first", "_second", "_second"]);
  });
});

Deno.test("rad69 --gateway --home-community-id: ITI-38, ITI-39 and RAD-75 at one URL, assertion required", async () => {
  const community = "urn:oid:1.2.840.99.66";
  const study = syntheticStudy({ series: 2, instancesPerSeries: 1, seed: 41 });
  const kos = kosFor(study, "1.2.840.99.9.41");
  await using gateway = await FakeXdsGateway.start({
    homeCommunityId: community,
    instances: [...study, kos],
    documents: [{
      patientId: PATIENT,
      uniqueId: kos.instanceUid,
      repositoryUniqueId: REPOSITORY,
    }],
    requireAssertion: "_gw-assertion",
  });
  await withTemp(async (dir) => {
    const file = join(dir, "assertion.xml");
    await Deno.writeTextFile(
      file,
      `<wsse:Security xmlns:wsse="${WSSE}"><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_gw-assertion" Version="2.0"/></wsse:Security>`,
    );
    const r = await cli([
      "--gateway",
      gateway.url,
      "--home-community-id",
      community,
      "--patient",
      PATIENT,
      "--saml-assertion",
      file,
      "--out",
      join(dir, "o"),
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.delivered, 2);
    assert.equal(summary.manifests[0].community, community);
    assert.equal(gateway.registry.requests.length, 1);
    const actions = gateway.server.requests.map((q) => q.action);
    assert.deepEqual(actions, [
      "urn:ihe:iti:2007:CrossGatewayRetrieve",
      "urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSet",
      "urn:ihe:rad:2011:CrossGatewayRetrieveImagingDocumentSet",
    ]);
  });
});

Deno.test("rad69 --gateway names the community of every failure", async () => {
  const community = "urn:oid:1.2.840.99.67";
  const study = syntheticStudy({ series: 1, instancesPerSeries: 2, seed: 42 });
  const kos = kosFor(study, "1.2.840.99.9.42");
  await using gateway = await FakeXdsGateway.start({
    homeCommunityId: community,
    instances: [study[0]!, kos], // the second image is missing
    documents: [{
      patientId: PATIENT,
      uniqueId: kos.instanceUid,
      repositoryUniqueId: REPOSITORY,
    }],
  });
  await withTemp(async (dir) => {
    const text = await cli([
      "--gateway",
      gateway.url,
      "--home-community-id",
      community,
      "--patient",
      PATIENT,
      "--out",
      join(dir, "o"),
    ]);
    assert.equal(text.code, 1);
    assert.match(
      text.stderr,
      new RegExp(`${study[1]!.instanceUid} \\(community ${community}\\)`),
    );
    const json = await cli([
      "--gateway",
      gateway.url,
      "--home-community-id",
      community,
      "--patient",
      PATIENT,
      "--out",
      join(dir, "o"),
      "--json",
      "--resume",
    ]);
    const failed = JSON.parse(json.stdout).instances.filter((
      i: { status: string },
    ) => i.status === "failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].community, community);
  });
});

Deno.test("rad69 --patient: a registry PartialSuccess is printed and exits 1", async () => {
  await using d = await patientDomain(51);
  d.registry.plan = {
    partialSuccess: {
      code: "XDSUnavailableCommunity",
      context: "one community did not answer",
    },
  };
  await withTemp(async (dir) => {
    const r = await cli([
      ...patientArgs(d),
      "--out",
      dir,
      "--json",
    ]);
    assert.equal(r.code, 1, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.delivered, 4);
    assert.equal(summary.registry.status, "PartialSuccess");
    assert.equal(summary.registry.errors[0].code, "XDSUnavailableCommunity");
    const text = await cli([
      ...patientArgs(d),
      "--out",
      dir,
      "--resume",
    ]);
    assert.equal(text.code, 1);
    assert.match(
      text.stderr,
      /Registry answered PartialSuccess with error XDSUnavailableCommunity: one community did not answer \(some manifests may be missing\)/,
    );
  });
});

Deno.test("rad69 --dry-run --json prints the plan as JSON, manifests as the summary shows them", async () => {
  await using d = await patientDomain(61);
  await withTemp(async (dir) => {
    const r = await cli([
      ...patientArgs(d),
      "--out",
      join(dir, "never"),
      "--dry-run",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.dryRun, true);
    assert.equal(out.plan.instances, 4);
    assert.deepEqual(out.plan.manifests, [{
      status: "fetched",
      documentUniqueId: d.kos.instanceUid,
      repositoryUniqueId: REPOSITORY,
      path: `ITI-43 document ${d.kos.instanceUid}`,
      instances: 4,
    }]);
    assert.equal(d.source.requests.length, 0);
  });
});
