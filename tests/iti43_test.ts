/**
 * ITI-43 / ITI-39 on the exchange core, against the fake server acting as
 * an XDS repository (and as a gateway of one community) on loopback.
 */
import assert from "node:assert/strict";
import {
  buildRetrieveDocumentSetRequest,
  type DocumentReference,
  ITI39_ACTION,
  ITI43_ACTION,
  retrieveDocuments,
} from "../src/xds/mod.ts";
import {
  InvalidUidError,
  Rad69ServerError,
  SoapFaultError,
  XDSMissingDocumentError,
} from "../src/errors.ts";
import { buildDicomInstance, FakeRad69Server } from "../src/testing/mod.ts";
import { parseXml } from "../src/xml.ts";

const XDSB = "urn:ihe:iti:xds-b:2007";

function document(instanceUid: string) {
  const uids = { studyUid: "1.2.3", seriesUid: "1.2.3.4", instanceUid };
  return { ...uids, bytes: buildDicomInstance(uids) };
}

Deno.test("buildRetrieveDocumentSetRequest() writes one DocumentRequest per document, in order", () => {
  const docs: DocumentReference[] = [
    { repositoryUniqueId: "1.2.9", documentUniqueId: "1.2.3.1" },
    { repositoryUniqueId: "1.2.8", documentUniqueId: "1.2.3.2" },
  ];
  const request = buildRetrieveDocumentSetRequest(docs, {
    url: "http://repo.example/iti43",
  });
  const envelope = parseXml(request.xml);
  const body = envelope.children.find((c) => c.local === "Body")!;
  const set = body.children[0]!;
  assert.equal(set.ns, XDSB);
  assert.equal(set.local, "RetrieveDocumentSetRequest");
  assert.deepEqual(
    set.children.map((d) => d.children.map((c) => [c.local, c.text])),
    [
      [["RepositoryUniqueId", "1.2.9"], ["DocumentUniqueId", "1.2.3.1"]],
      [["RepositoryUniqueId", "1.2.8"], ["DocumentUniqueId", "1.2.3.2"]],
    ],
  );
  assert.ok(request.contentType.includes(`action="${ITI43_ACTION}"`));
});

Deno.test("buildRetrieveDocumentSetRequest() names the bad field", () => {
  assert.throws(
    () =>
      buildRetrieveDocumentSetRequest([
        { repositoryUniqueId: "1.2", documentUniqueId: "1.2" },
        { repositoryUniqueId: "1.02", documentUniqueId: "1.2.3" },
      ], { url: "http://repo.example/" }),
    (e: unknown) =>
      e instanceof InvalidUidError &&
      e.message.includes("docs[1].repositoryUniqueId"),
  );
  assert.throws(
    () => buildRetrieveDocumentSetRequest([], { url: "http://repo.example/" }),
    /no documents given/,
  );
  assert.throws(
    () =>
      buildRetrieveDocumentSetRequest([
        { repositoryUniqueId: "1.2", documentUniqueId: "1.2" },
      ], { url: "http://repo.example/", crossGateway: true }),
    /ITI-39 request: docs\[0\] has no homeCommunityId/,
  );
});

Deno.test("retrieveDocuments() delivers each document byte for byte and fails the missing one", async () => {
  const a = document("1.2.3.10");
  const b = document("1.2.3.11");
  await using server = await FakeRad69Server.start({ instances: [a, b] });
  const outcomes = await Array.fromAsync(retrieveDocuments([
    { repositoryUniqueId: "1.2.7", documentUniqueId: a.instanceUid },
    { repositoryUniqueId: "1.2.7", documentUniqueId: "1.2.3.404" },
    { repositoryUniqueId: "1.2.7", documentUniqueId: b.instanceUid },
  ], { url: server.url, retries: 0 }));
  assert.equal(server.requests.length, 1, "one request for all documents");
  assert.equal(server.requests[0]!.action, ITI43_ACTION);
  const byUid = new Map(outcomes.map((o) => [o.ref.documentUniqueId, o]));
  assert.equal(byUid.size, 3);
  for (const doc of [a, b]) {
    const o = byUid.get(doc.instanceUid)!;
    assert.ok(o.status === "delivered");
    assert.deepEqual(o.instance.bytes, doc.bytes);
    assert.equal(o.instance.repositoryUniqueId, "1.2.7");
  }
  const missing = byUid.get("1.2.3.404")!;
  assert.ok(missing.status === "failed");
  assert.ok(missing.error instanceof XDSMissingDocumentError);
  assert.match(missing.error.message, /Document "1\.2\.3\.404" not found/);
});

Deno.test("retrieveDocuments() retries a 503 and keeps what arrived", async () => {
  const a = document("1.2.3.20");
  await using server = await FakeRad69Server.start({ instances: [a] });
  server.enqueue({ http: { status: 503 } });
  const [outcome] = await Array.fromAsync(retrieveDocuments(
    [{ repositoryUniqueId: "1.2.7", documentUniqueId: a.instanceUid }],
    { url: server.url, retries: 1, retryBaseDelayMs: 1 },
  ));
  assert.ok(outcome!.status === "delivered");
  assert.equal(server.requests.length, 2);
});

Deno.test("a gateway fake serves ITI-39 only for its community", async () => {
  const a = document("1.2.3.30");
  const community = "urn:oid:1.2.3.777";
  await using gateway = await FakeRad69Server.start({
    instances: [a],
    homeCommunityId: community,
  });
  const ok = await Array.fromAsync(retrieveDocuments(
    [{
      repositoryUniqueId: "1.2.7",
      documentUniqueId: a.instanceUid,
      homeCommunityId: community,
    }],
    { url: gateway.url, crossGateway: true, retries: 0 },
  ));
  assert.equal(gateway.requests[0]!.action, ITI39_ACTION);
  assert.deepEqual(gateway.requests[0]!.homeCommunityIds, [community]);
  assert.equal(ok[0]!.status, "delivered");
  const [other] = await Array.fromAsync(retrieveDocuments(
    [{
      repositoryUniqueId: "1.2.7",
      documentUniqueId: a.instanceUid,
      homeCommunityId: "urn:oid:9.9",
    }],
    { url: gateway.url, crossGateway: true, retries: 0 },
  ));
  assert.ok(other!.status === "failed");
  assert.ok(other.error instanceof Rad69ServerError);
  assert.equal(other.error.code, "XDSUnknownCommunity");
  assert.match(other.error.message, /community urn:oid:9\.9/);
});

Deno.test("a fake requiring an assertion faults without it, and serves with it", async () => {
  const a = document("1.2.3.40");
  await using server = await FakeRad69Server.start({
    instances: [a],
    requireAssertion: "_assertion-1",
  });
  const ref = { repositoryUniqueId: "1.2.7", documentUniqueId: a.instanceUid };
  const [refused] = await Array.fromAsync(
    retrieveDocuments([ref], { url: server.url, retries: 0 }),
  );
  assert.ok(refused!.status === "failed");
  assert.ok(refused.error instanceof SoapFaultError);
  assert.match(refused.error.message, /FailedAuthentication|security header/i);
  const securityHeader = () =>
    `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
    `<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_assertion-1" Version="2.0"/>` +
    `</wsse:Security>`;
  const [served] = await Array.fromAsync(
    retrieveDocuments([ref], { url: server.url, retries: 0, securityHeader }),
  );
  assert.equal(served!.status, "delivered");
});

Deno.test("a RegistryError located by a community fails that community's documents only", async () => {
  const a = document("1.2.3.50");
  const b = document("1.2.3.51");
  const community = "urn:oid:1.2.3.888";
  await using gateway = await FakeRad69Server.start({
    instances: [a, b],
    homeCommunityId: community,
  });
  const outcomes = await Array.fromAsync(retrieveDocuments(
    [
      {
        repositoryUniqueId: "1.2.7",
        documentUniqueId: a.instanceUid,
        homeCommunityId: "urn:oid:4.4",
      },
      {
        repositoryUniqueId: "1.2.7",
        documentUniqueId: b.instanceUid,
        homeCommunityId: "urn:oid:5.5",
      },
    ],
    { url: gateway.url, crossGateway: true, retries: 0 },
  ));
  const byUid = new Map(outcomes.map((o) => [o.ref.documentUniqueId, o]));
  for (const [uid, home] of [[a.instanceUid, "4.4"], [b.instanceUid, "5.5"]]) {
    const o = byUid.get(uid)!;
    assert.ok(o.status === "failed");
    assert.ok(o.error instanceof Rad69ServerError);
    assert.equal(o.error.location, `urn:oid:${home}`, uid);
  }
});
