import assert from "node:assert/strict";
import {
  LimitExceededError,
  MultipartSyntaxError,
  TruncatedResponseError,
} from "../src/errors.ts";
import {
  MultipartParser,
  type MultipartPart,
} from "../src/multipart/multipart_parser.ts";
import { MultipartSplitter } from "../src/multipart/multipart_splitter.ts";
import { NaiveScanEngine } from "./_utils/naive_engine.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const ENGINES = ["ts", "wasm", "naive"] as const;

function engineOf(kind: (typeof ENGINES)[number]) {
  return kind === "naive" ? new NaiveScanEngine() : kind;
}

function split(
  body: Uint8Array,
  boundary: string,
  chunk: number,
  kind: (typeof ENGINES)[number] = "ts",
  windowSize = 1024,
): MultipartPart[] {
  using parser = new MultipartParser(boundary, {
    engine: engineOf(kind),
    windowSize,
  });
  const parts: MultipartPart[] = [];
  for (let i = 0; i < body.length; i += chunk) {
    parser.push(body.subarray(i, i + chunk), (p) => parts.push(p));
  }
  parser.finish();
  return parts;
}

const SIMPLE = "preamble text\r\n--b0undary\r\nContent-ID: <root>\r\n" +
  "content-type: application/xop+xml\r\n\r\n<xml/>\r\n--b0undary\r\n" +
  "Content-ID: <p1>\r\n\r\nBODY1\r\n--b0undary--\r\nepilogue";

Deno.test("MultipartParser.push() splits parts across every chunking", () => {
  const body = enc.encode(SIMPLE);
  for (const kind of ENGINES) {
    for (let chunk = 1; chunk <= body.length; chunk++) {
      const parts = split(body, "b0undary", chunk, kind);
      assert.equal(parts.length, 2, `chunk ${chunk} ${kind}`);
      assert.equal(parts[0]!.headers.get("content-id"), "<root>");
      assert.equal(
        parts[0]!.headers.get("Content-Type"),
        "application/xop+xml",
      );
      assert.equal(dec.decode(parts[0]!.body), "<xml/>");
      assert.equal(dec.decode(parts[1]!.body), "BODY1");
      assert.equal(parts[1]!.index, 1);
    }
  }
});

Deno.test("MultipartParser.push() keeps boundary look-alikes inside bodies", () => {
  const tricky = "x\n--b0undary\r\n--b0undaryX\r\n--b0undar\r\r\n-- b0undary";
  const body = enc.encode(
    `--b0undary\r\n\r\n${tricky}\r\n--b0undary\r\n\r\n\r\n\r\n--b0undary--`,
  );
  for (const kind of ENGINES) {
    for (const chunk of [1, 2, 3, 7, 64, 4096]) {
      const parts = split(body, "b0undary", chunk, kind);
      assert.equal(parts.length, 2);
      assert.equal(dec.decode(parts[0]!.body), tricky);
      assert.equal(dec.decode(parts[1]!.body), "\r\n");
    }
  }
});

Deno.test("MultipartParser.push() handles empty parts and bodies ending in CR, LF, --", () => {
  const bodies = ["", "\r", "\n", "\r\n", "--", "-", "a\r\n-"];
  const text = "--b\r\n\r\n--b\r\n" +
    bodies.map((b) => `X: 1\r\n\r\n${b}`).join("\r\n--b\r\n") + "\r\n--b--";
  for (const kind of ENGINES) {
    for (const chunk of [1, 2, 5, 1000]) {
      const parts = split(enc.encode(text), "b", chunk, kind);
      assert.equal(parts.length, bodies.length + 1);
      assert.equal(parts[0]!.body.length, 0);
      assert.equal([...parts[0]!.headers].length, 0);
      assert.deepEqual(parts.slice(1).map((p) => dec.decode(p.body)), bodies);
    }
  }
});

Deno.test("MultipartParser.push() tolerates LF-only framing and padding", () => {
  const text = "--b \t\nA: 1\n\none\n--b\nB: 2\n\ntwo\n--b--\n";
  for (const kind of ENGINES) {
    for (const chunk of [1, 3, 100]) {
      const parts = split(enc.encode(text), "b", chunk, kind);
      assert.deepEqual(parts.map((p) => dec.decode(p.body)), ["one", "two"]);
      assert.equal(parts[1]!.headers.get("b"), "2");
    }
  }
});

Deno.test("MultipartParser.push() grows its window for parts larger than it", () => {
  const big = new Uint8Array(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  const head = enc.encode("--q\r\n\r\n");
  const tail = enc.encode("\r\n--q\r\n\r\nsmall\r\n--q--");
  const body = new Uint8Array(head.length + big.length + tail.length);
  body.set(head);
  body.set(big, head.length);
  body.set(tail, head.length + big.length);
  for (const kind of ["ts", "wasm"] as const) {
    for (const chunk of [999, 65536, body.length]) {
      const parts = split(body, "q", chunk, kind, 1024);
      assert.equal(parts.length, 2);
      assert.deepEqual(parts[0]!.body, big);
      assert.equal(parts[0]!.offset, head.length);
    }
  }
});

Deno.test("MultipartParser.finish() reports truncation and never emits the partial part", () => {
  const text = "--b\r\n\r\nfirst\r\n--b\r\n\r\nsecond-partial";
  for (const cut of [text.length, text.length - 5, 10, 3]) {
    using parser = new MultipartParser("b", { engine: "ts" });
    const parts: MultipartPart[] = [];
    parser.push(enc.encode(text.slice(0, cut)), (p) => parts.push(p));
    assert.throws(() => parser.finish(), TruncatedResponseError);
    assert.ok(parts.every((p) => dec.decode(p.body) === "first"));
  }
});

Deno.test("MultipartParser enforces header and part limits", () => {
  {
    using parser = new MultipartParser("b", { engine: "ts", maxPartSize: 4 });
    assert.throws(
      () => parser.push(enc.encode("--b\r\n\r\n0123456789\r\n--b--"), () => {}),
      LimitExceededError,
    );
  }
  {
    using parser = new MultipartParser("b", {
      engine: "ts",
      maxHeaderBytes: 32,
    });
    assert.throws(
      () => parser.push(enc.encode(`--b\r\nX: ${"a".repeat(100)}`), () => {}),
      LimitExceededError,
    );
  }
  {
    using parser = new MultipartParser("b", {
      engine: "ts",
      maxHeaderCount: 2,
    });
    assert.throws(
      () =>
        parser.push(
          enc.encode("--b\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
          () => {},
        ),
      MultipartSyntaxError,
    );
  }
  {
    using parser = new MultipartParser("b", { engine: "ts" });
    assert.throws(
      () => parser.push(enc.encode("--b\r\nnot a header\r\n\r\n"), () => {}),
      MultipartSyntaxError,
    );
  }
  assert.throws(
    () => new MultipartParser("x".repeat(71)),
    MultipartSyntaxError,
  );
  assert.throws(() => new MultipartParser(""), MultipartSyntaxError);
});

Deno.test("MultipartSplitter pipes a Response body into parts", async () => {
  for (const engine of ["ts", "wasm"] as const) {
    const parts = await Array.fromAsync(
      new Response(SIMPLE).body!.pipeThrough(
        new MultipartSplitter("b0undary", { engine }),
      ),
    );
    assert.equal(parts.length, 2);
    await assert.rejects(
      Array.fromAsync(
        new Response(SIMPLE.slice(0, 80)).body!.pipeThrough(
          new MultipartSplitter("b0undary", { engine }),
        ),
      ),
      TruncatedResponseError,
    );
  }
});
