/**
 * Download layouts: templates, sanitised names, and no two instances on one
 * path.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { LayoutError } from "../src/errors.ts";
import {
  layoutFromTemplate,
  LayoutPlacer,
  sanitizePathComponent,
} from "../src/layout.ts";
import { Rad69Client } from "../src/client.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const ref = { studyUid: "1.2", seriesUid: "1.2.3", instanceUid: "1.2.3.4" };
const withValues = (values: Record<string, string | number | string[]>) => ({
  ref,
  get: (keyword: string) => values[keyword],
});

Deno.test("sanitizePathComponent() leaves no separator, .., control or reserved character", () => {
  for (
    const hostile of [
      "..",
      "../..",
      "a/b",
      "a\\b",
      "C:x",
      "a\u0000b",
      "x\n",
      " . ",
      'a*?<>|"b',
    ]
  ) {
    const name = sanitizePathComponent(hostile);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(name, /[/\\:*?"<>|\u0000-\u001f]|\.\./, hostile);
    assert.notEqual(name, "");
    assert.notEqual(name, ".");
  }
  assert.equal(sanitizePathComponent("x".repeat(500)).length, 120);
});

Deno.test("layoutFromTemplate() substitutes, pads and sanitises values", () => {
  const layout = layoutFromTemplate(
    "{PatientID}/{StudyDate}_{StudyInstanceUID}/{InstanceNumber:05}.dcm",
  );
  assert.deepEqual(
    layout(
      withValues({
        PatientID: "a/../b",
        StudyDate: "20240101",
        StudyInstanceUID: "1.2",
        InstanceNumber: 3,
      }),
    ),
    ["a___b", "20240101_1.2", "00003.dcm"],
  );
  assert.deepEqual(
    layout(withValues({ StudyInstanceUID: "1.2" }))[0],
    "_",
  );
  assert.deepEqual(
    layoutFromTemplate("{ImageType}.dcm")(
      withValues({ ImageType: ["ORIGINAL", "PRIMARY"] }),
    ),
    ["ORIGINAL_PRIMARY.dcm"],
  );
  for (
    const [template, message] of [
      ["/abs/{SOPInstanceUID}", /relative/],
      ["a//{SOPInstanceUID}", /empty/],
      ["../{SOPInstanceUID}", /".."/],
      ["{Nope}.dcm", /Unknown DICOM keyword "Nope"/],
      ["{PixelData}.dcm", /not a value for a name/],
      ["{SOPInstanceUID.dcm", /unbalanced/],
      ["{SOPInstanceUID:x}", /unknown format/],
      ["fixed.dcm", /no \{Keyword\}/],
    ] as const
  ) {
    assert.throws(() => layoutFromTemplate(template), message, template);
  }
});

Deno.test("LayoutPlacer.place() refuses a second instance on one path and a broken layout", () => {
  const placer = new LayoutPlacer("/out", () => ["same.dcm"]);
  assert.equal(placer.place(withValues({})), join("/out", "same.dcm"));
  assert.equal(placer.place(withValues({})), join("/out", "same.dcm")); // same instance again
  const other = {
    ref: { ...ref, instanceUid: "1.2.3.5" },
    get: () => undefined,
  };
  assert.throws(() => placer.place(other), (e: unknown) => {
    assert.ok(e instanceof LayoutError);
    assert.equal(e.conflictsWith?.instanceUid, "1.2.3.4");
    assert.match(
      e.message,
      /"1\.2\.3\.4" and "1\.2\.3\.5" would both be written/,
    );
    return true;
  });
  const broken = new LayoutPlacer("/out", () => {
    throw new Error("boom");
  });
  assert.throws(() => broken.place(withValues({})), /layout failed .*boom/);
  const empty = new LayoutPlacer("/out", () => []);
  assert.throws(() => empty.place(withValues({})), LayoutError);
});

Deno.test("download() with a layout writes there, fails collisions per instance, and resumes", async () => {
  const study = syntheticStudy({ series: 2, instancesPerSeries: 2, seed: 11 });
  await using server = await FakeRad69Server.start({ instances: study });
  using client = new Rad69Client({ url: server.url, logger: {} });
  const dir = await Deno.makeTempDir();
  try {
    const layout = (i: { ref: typeof ref; get(k: string): unknown }) => [
      String(i.get("Modality")),
      `${i.get("SeriesNumber")}`,
      `${i.ref.instanceUid}.dcm`,
    ];
    const report = await client.download(study, dir, { layout });
    assert.equal(report.delivered, 4);
    for (const [n, instance] of study.entries()) {
      const path = join(
        dir,
        "CT",
        n < 2 ? "1" : "2",
        `${instance.instanceUid}.dcm`,
      );
      assert.equal(report.entries[n]!.path, path);
      assert.equal((await Deno.stat(path)).size, instance.bytes.length);
    }
    const again = await client.download(study, dir, { layout, resume: true });
    assert.equal(again.skipped, 4);
    const clash = await client.download(study, join(dir, "clash"), {
      layout: (i) => [`${i.get("SeriesNumber")}.dcm`],
    });
    assert.equal(clash.delivered, 2);
    assert.equal(clash.failed, 2);
    const failed = clash.entries.filter((e) => e.status === "failed");
    assert.ok(
      failed.every((e) =>
        e.status === "failed" && e.error instanceof LayoutError
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
