/**
 * Mutual TLS end to end: certificates made here with openssl (X.509 v3), a
 * local TLS server that requires a client certificate (node:tls with
 * `requestCert` and `rejectUnauthorized`; `Deno.serve`/`Deno.listenTls`
 * cannot require one) forwarding to the fake RAD-69 server, and the client
 * and the CLI talking to it.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import { Rad69Client } from "../src/client.ts";
import { downloadPath } from "../src/download.ts";
import { Rad69NetworkError } from "../src/errors.ts";
import { FakeRad69Server, syntheticStudy } from "../src/testing/mod.ts";
import type { CliSummary } from "../src/cli/summary.ts";
import { refsOf, sameBytes } from "./_utils/refs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const STUDY = syntheticStudy({ series: 1, instancesPerSeries: 3, seed: 9 });
const REFS = refsOf(STUDY);
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** Runs openssl; throws with its stderr on failure. */
async function openssl(args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `openssl ${args[0]} failed (${code}): ${decoder.decode(stderr)}`,
    );
  }
  return decoder.decode(stdout);
}

const HAS_OPENSSL = await (async () => {
  try {
    await openssl(["version"], ".");
    return true;
  } catch {
    // deno-lint-ignore no-console
    console.warn("openssl not found: the mutual TLS tests are skipped");
    return false;
  }
})();

/** PEM material of one test PKI. */
interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA the server does not trust. */
  rogueCert: string;
  rogueKey: string;
}

/** Makes a CA, a server certificate (127.0.0.1) and client certificates. */
async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "rad69-mtls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  const ca = async (name: string) => {
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=rad69 ${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
  };
  const leaf = async (
    name: string,
    issuer: string,
    cn: string,
    ext: string,
  ) => {
    await Deno.writeTextFile(join(dir, `${name}.ext`), ext);
    await openssl([
      "req",
      ...ec,
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    ], dir);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.pem`,
      "-CAkey",
      `${issuer}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ], dir);
  };
  await ca("ca");
  await ca("rogue-ca");
  await leaf(
    "server",
    "ca",
    "localhost",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  const clientExt =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
  await leaf("client", "ca", "rad69 test client", clientExt);
  await leaf("rogue", "rogue-ca", "rad69 rogue client", clientExt);
  const read = (name: string) => Deno.readTextFile(join(dir, name));
  return {
    dir,
    ca: await read("ca.pem"),
    serverCert: await read("server.pem"),
    serverKey: await read("server.key"),
    clientCert: await read("client.pem"),
    clientKey: await read("client.key"),
    rogueCert: await read("rogue.pem"),
    rogueKey: await read("rogue.key"),
  };
}

/** A TLS front that requires a client certificate and pipes to `port`. */
class MtlsProxy implements AsyncDisposable {
  readonly port: number;
  /** Subjects (CN) of the client certificates accepted. */
  readonly accepted: string[] = [];
  /** Handshake errors of refused clients. */
  readonly refused: string[] = [];
  #server: tls.Server;
  #sockets = new Set<net.Socket>();

  private constructor(server: tls.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(pki: Pki, upstream: number): Promise<MtlsProxy> {
    const holder: { proxy?: MtlsProxy } = {};
    const server = tls.createServer({
      key: pki.serverKey,
      cert: pki.serverCert,
      ca: pki.ca,
      requestCert: true,
      rejectUnauthorized: true,
    }, (socket) => holder.proxy!.#pipe(socket, upstream));
    server.on(
      "tlsClientError",
      (error) => holder.proxy?.refused.push(error.message),
    );
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve())
    );
    holder.proxy = new MtlsProxy(
      server,
      (server.address() as net.AddressInfo).port,
    );
    return holder.proxy;
  }

  #pipe(socket: tls.TLSSocket, upstream: number): void {
    const subject = socket.getPeerCertificate()?.subject?.CN;
    this.accepted.push(String(subject));
    const up = net.connect(upstream, "127.0.0.1");
    this.#sockets.add(socket);
    this.#sockets.add(up);
    const done = () => {
      socket.destroy();
      up.destroy();
      this.#sockets.delete(socket);
      this.#sockets.delete(up);
    };
    for (const s of [socket, up]) {
      s.on("error", done);
      s.on("close", done);
    }
    socket.pipe(up);
    up.pipe(socket);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** The messages of an error and its causes. */
function causeChain(error: unknown): string {
  const out: string[] = [];
  for (let e = error, i = 0; e && i < 6; i++) {
    out.push(e instanceof Error ? e.message : String(e));
    e = (e as { cause?: unknown }).cause;
  }
  return out.join(" <- ");
}

async function withPki(
  fn: (pki: Pki, fake: FakeRad69Server, proxy: MtlsProxy) => Promise<void>,
): Promise<void> {
  const pki = await makePki();
  try {
    await using fake = await FakeRad69Server.start({ instances: STUDY });
    await using proxy = await MtlsProxy.start(pki, fake.port);
    await fn(pki, fake, proxy);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
}

Deno.test({
  name: "openssl makes X.509 v3 certificates for the test PKI",
  ignore: !HAS_OPENSSL,
  timeout: 60_000,
  async fn() {
    const pki = await makePki();
    try {
      for (const name of ["ca.pem", "server.pem", "client.pem"]) {
        const text = await openssl(
          ["x509", "-in", name, "-noout", "-text"],
          pki.dir,
        );
        assert.match(text, /Version: 3 \(0x2\)/, name);
      }
      const client = await openssl(
        ["x509", "-in", "client.pem", "-noout", "-ext", "extendedKeyUsage"],
        pki.dir,
      );
      assert.match(client, /TLS Web Client Authentication/);
    } finally {
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "downloadInstances() over mutual TLS: delivered with the client certificate, refused without it",
  ignore: !HAS_OPENSSL,
  timeout: 60_000,
  async fn(t) {
    await withPki(async (pki, fake, proxy) => {
      const url = `https://127.0.0.1:${proxy.port}/rad69`;
      const dir = await Deno.makeTempDir({ prefix: "rad69-mtls-out-" });
      try {
        await t.step("with the client certificate", async () => {
          using client = new Rad69Client({
            url,
            tls: {
              cert: pki.clientCert,
              key: pki.clientKey,
              caCerts: [pki.ca],
            },
            logger: {},
          });
          const report = await client.download(REFS, dir);
          assert.equal(report.delivered, 3, JSON.stringify(report.entries));
          for (const instance of STUDY) {
            const bytes = await Deno.readFile(downloadPath(dir, instance));
            assert.ok(sameBytes(bytes, instance.bytes));
          }
          assert.deepEqual(proxy.accepted, ["rad69 test client"]);
          assert.equal(fake.requests.length, 1);
        });

        const refused = async (
          tlsOptions: { cert?: string; key?: string; caCerts?: string[] },
          cause: RegExp,
        ) => {
          using client = new Rad69Client({
            url,
            tls: tlsOptions,
            retries: 0,
            logger: {},
          });
          const out = join(dir, "refused");
          const report = await client.download(REFS, out);
          assert.equal(report.delivered, 0);
          assert.equal(report.failed, 3);
          for (const entry of report.entries) {
            assert.equal(entry.status, "failed");
            if (entry.status !== "failed") continue;
            assert.ok(entry.error instanceof Rad69NetworkError);
            assert.match(causeChain(entry.error), cause);
          }
          // Nothing was written: the folder holds only rad69's lock.
          const names = [];
          for await (const e of Deno.readDir(out)) names.push(e.name);
          assert.deepEqual(names, [".rad69"]);
        };

        await t.step("without a client certificate", async () => {
          const before = proxy.refused.length;
          await refused(
            { caCerts: [pki.ca] },
            /CertificateRequired|alert|close_notify|closed/i,
          );
          assert.ok(proxy.refused.length > before, "the server refused it");
          assert.match(proxy.refused.at(-1)!, /no certificate/i);
          assert.equal(fake.requests.length, 1, "nothing got through");
        });

        await t.step("with a certificate from an untrusted CA", async () => {
          const before = proxy.refused.length;
          // The server refuses the handshake; depending on timing the client
          // sees its alert or the connection closing.
          await refused(
            { cert: pki.rogueCert, key: pki.rogueKey, caCerts: [pki.ca] },
            /alert|certificate|close_notify|closed/i,
          );
          assert.ok(proxy.refused.length > before, "the server refused it");
          assert.equal(fake.requests.length, 1, "nothing got through");
        });

        await t.step("when the server certificate is not trusted", async () => {
          // The right client certificate, but the server's CA is not given:
          // the connection must fail (no silent downgrade to no checks).
          await refused(
            { cert: pki.clientCert, key: pki.clientKey },
            /UnknownIssuer|certificate/i,
          );
          assert.deepEqual(proxy.accepted, ["rad69 test client"]);
          assert.equal(fake.requests.length, 1, "nothing got through");
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "rad69 --cert --key --ca downloads over mutual TLS, and fails without",
  ignore: !HAS_OPENSSL,
  timeout: 60_000,
  async fn() {
    await withPki(async (pki, fake, proxy) => {
      const out = join(pki.dir, "out");
      const run = async (extra: string[]) => {
        const { code, stdout, stderr } = await new Deno.Command(
          Deno.execPath(),
          {
            args: [
              "run",
              "--quiet",
              "--no-prompt",
              "--allow-net=127.0.0.1",
              "--allow-read",
              "--allow-write",
              "--allow-env",
              CLI,
              "--url",
              `https://127.0.0.1:${proxy.port}/rad69`,
              "--out",
              out,
              "--json",
              "--retries",
              "0",
              ...extra,
              ...REFS.map((r) =>
                `${r.studyUid}/${r.seriesUid}/${r.instanceUid}`
              ),
            ],
            cwd: ROOT,
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          },
        ).output();
        const decoder = new TextDecoder();
        return {
          code,
          summary: decoder.decode(stdout),
          stderr: decoder.decode(stderr),
        };
      };
      const cert = join(pki.dir, "client.pem");
      const key = join(pki.dir, "client.key");
      const ca = join(pki.dir, "ca.pem");

      const ok = await run(["--cert", cert, "--key", key, "--ca", ca]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((JSON.parse(ok.summary) as CliSummary).delivered, 3);
      for (const instance of STUDY) {
        const bytes = await Deno.readFile(downloadPath(out, instance));
        assert.ok(sameBytes(bytes, instance.bytes));
      }

      for (const extra of [["--ca", ca], ["--cert", cert, "--key", key]]) {
        const failed = await run(extra);
        assert.equal(failed.code, 1, failed.stderr);
        const summary = JSON.parse(failed.summary) as CliSummary;
        assert.equal(summary.failed, 3);
        assert.equal(summary.instances[0]!.error?.name, "Rad69NetworkError");
        // The TLS reason behind "fetch failed" is shown (in the message, or
        // as the cause when the message does not hold it).
        const error = summary.instances[0]!.error!;
        assert.match(
          `${error.message} ${error.cause ?? ""}`,
          /certificate|alert|UnknownIssuer|close_notify|closed/i,
        );
      }
      assert.equal(fake.requests.length, 1, "only the authorised run got in");
    });
  },
});
