/**
 * The module graph of `src/` has no import circle (type-only imports
 * count), so a worker loads only what a batch needs and every layer can be
 * read on its own.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

interface ModuleInfo {
  specifier: string;
  dependencies?: {
    specifier: string;
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/** The local import graph of the given entry points. */
async function importGraph(
  entries: string[],
): Promise<Map<string, Set<string>>> {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const graph = new Map<string, Set<string>>();
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: ModuleInfo[];
    };
    for (const module of info.modules) {
      if (!module.specifier.includes("/src/")) continue;
      const edges = graph.get(module.specifier) ?? new Set<string>();
      for (const dep of module.dependencies ?? []) {
        for (const target of [dep.code?.specifier, dep.type?.specifier]) {
          if (target?.includes("/src/")) edges.add(target);
        }
      }
      graph.set(module.specifier, edges);
    }
  }
  return graph;
}

/** One circle of the graph, or `undefined` (depth-first search). */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        return [...path.slice(path.indexOf(next)), next];
      }
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

Deno.test("src/ has no import circle, type-only imports included", async () => {
  const graph = await importGraph([
    "mod.ts",
    "cli.ts",
    "src/testing/mod.ts",
    "src/workers/retrieve_worker.ts",
  ]);
  assert.ok(graph.size > 10, `only ${graph.size} modules found`);
  const cycle = findCycle(graph);
  assert.equal(
    cycle,
    undefined,
    `import circle: ${
      cycle?.map((s) => s.replace(/.*\/src\//, "src/")).join(" -> ")
    }`,
  );
});

Deno.test("findCycle() finds a circle in a small graph", () => {
  const graph = new Map([
    ["a", new Set(["b"])],
    ["b", new Set(["c"])],
    ["c", new Set(["a"])],
  ]);
  assert.deepEqual(findCycle(graph), ["a", "b", "c", "a"]);
  assert.equal(findCycle(new Map([["a", new Set(["b"])]])), undefined);
});
