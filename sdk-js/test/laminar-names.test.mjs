// The Laminar SDK's current names for the session calls (setTraceSessionId,
// setTraceUserId, setTraceMetadata) work beside the seed's names: code written
// for either version of Laminar runs after changing only its import.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Laminar, observe } from "lamina-js";

import { initialize, newId, session, spansByName, trace } from "./support/server.mjs";

before(() => initialize());
after(() => Laminar.shutdown());

const lookup = (orderId) => observe({ name: "lookup" }, (id) => id, orderId);

test("code written for the current Laminar SDK runs unchanged", async () => {
  const sessionId = newId("lmnr-session");
  const userId = newId("lmnr-user");
  const ids = [];
  // As @lmnr-ai/lmnr's documentation writes it, with `from "lamina-js"`.
  const secondTurn = (message) =>
    observe({ name: "secondTurn" }, async (m) => {
      Laminar.setTraceSessionId(sessionId);
      Laminar.setTraceUserId(userId);
      Laminar.setTraceMetadata({ plan: "pro", region: "eu" });
      ids.push(Laminar.getTraceId());
      lookup("o-42"); // started after the calls: it carries them too
      return m.toUpperCase();
    }, message);

  assert.equal(await secondTurn("thanks"), "THANKS");

  const result = await session(sessionId);
  assert.equal(result.trace_count, 1);
  assert.deepEqual(result.user_ids, [userId]);
  const detail = await trace(ids[0]);
  assert.deepEqual(detail.metadata, { plan: "pro", region: "eu" });
  const spans = spansByName(detail);
  assert.equal(spans.lookup.session_id, sessionId);
  assert.equal(spans.lookup.user_id, userId);
});

test("outside any span they do nothing and say so by the name called", (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  Laminar.setTraceSessionId("nowhere");
  Laminar.setTraceUserId("nobody");
  Laminar.setTraceMetadata({ k: "v" });
  const messages = warn.mock.calls.map((call) => call.arguments[0]);
  assert.equal(messages.length, 3);
  for (const [index, name] of ["setTraceSessionId", "setTraceUserId", "setTraceMetadata"].entries()) {
    assert.match(messages[index], new RegExp(`Laminar\\.${name}\\(\\) was called outside any span`));
  }
});
