// Across services: getTraceHeaders() on the calling side, continueTrace() on
// the called side; the called side's spans join the caller's trace, session
// and user (the same W3C headers as the Python SDK's).

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { Laminar, observe } from "lamina-js";

import { initialize, newId, session, spansByName, trace } from "./support/server.mjs";

before(() => initialize());
after(() => Laminar.shutdown());

test("a service called over HTTP continues the caller's trace, session and user", async () => {
  // The called service: continues the trace from the request's headers.
  const backend = createServer((req, res) => {
    Laminar.continueTrace(req.headers, () =>
      observe({ name: "backend.handle" }, async () => {
        res.end(JSON.stringify({ traceId: Laminar.getTraceId() }));
      }),
    );
  });
  await new Promise((resolve) => backend.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${backend.address().port}/`;

  const sessionId = newId("frontend");
  const seen = await Laminar.withSession({ sessionId, userId: "u-front" }, () =>
    observe({ name: "frontend.request" }, async () => {
      const headers = Laminar.getTraceHeaders({ accept: "application/json" });
      assert.match(headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.match(headers.baggage, /lamina\.session_id=/);
      assert.equal(headers.accept, "application/json");
      const response = await fetch(url, { headers });
      return { ...(await response.json()), caller: Laminar.getTraceId() };
    }),
  );
  backend.close();

  assert.equal(seen.traceId, seen.caller);
  const result = await session(sessionId);
  assert.equal(result.trace_count, 1);
  assert.deepEqual(result.user_ids, ["u-front"]);
  const spans = spansByName(await trace(seen.caller));
  assert.equal(spans["backend.handle"].parent_span_id, spans["frontend.request"].span_id);
  assert.equal(spans["backend.handle"].session_id, sessionId);
  assert.equal(spans["backend.handle"].user_id, "u-front");
});

test("without headers continueTrace just runs the function", () => {
  assert.equal(Laminar.continueTrace({}, () => 5), 5);
  assert.deepEqual(Laminar.getTraceHeaders(), {});
});
