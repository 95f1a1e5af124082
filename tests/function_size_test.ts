/**
 * "Files with one job": no function in `src/` (outside `src/testing/`, the
 * fakes, and generated data) is longer than about 120 lines. Functions are
 * found with the TypeScript parser, so strings, template literals and
 * comments cannot fool the count.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import ts from "typescript";

const ROOT = new URL("..", import.meta.url).pathname;
const MAX_LINES = 120;
const SKIP = [/^src\/testing\//, /^src\/dictionary\.ts$/];

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Every function-like node longer than `MAX_LINES`, as "file:line name (n lines)". */
function longFunctions(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > MAX_LINES) {
        const name = (node as { name?: ts.Node }).name?.getText(source) ??
          "(anonymous)";
        out.push(`${file}:${start + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

Deno.test("the function finder sees a long function (it can fail)", () => {
  const body = Array.from({ length: MAX_LINES + 5 }, (_, i) => `  x += ${i};`)
    .join("\n");
  const text =
    `const s = \`}}}\`;\nexport function long() {\n  let x = 0;\n${body}\n  return x;\n}\n`;
  assert.deepEqual(longFunctions("probe.ts", text).length, 1);
});

Deno.test(`no function in src/ is longer than ${MAX_LINES} lines`, async () => {
  const long: string[] = [];
  for await (const path of sources(join(ROOT, "src"))) {
    const file = relative(ROOT, path);
    if (SKIP.some((re) => re.test(file))) continue;
    long.push(...longFunctions(file, await Deno.readTextFile(path)));
  }
  assert.deepEqual(long, []);
});
