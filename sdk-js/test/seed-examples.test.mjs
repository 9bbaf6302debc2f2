// The JavaScript examples of shared/seed/sessions.md, as written there (with
// "lamina-js" for the vendor's package and unique ids for the fixed ones),
// against a real `lamina serve`: the sessions and traces the JSON API returns
// are exactly the ones each example describes.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Laminar, observe } from "lamina-js";

import { laminaServer, newId, session, spansByName, trace } from "./support/server.mjs";

before(async () => {
  const { url, apiKey } = await laminaServer();
  process.env.LAMINA_PROJECT_API_KEY = apiKey;
  process.env.LAMINA_BASE_URL = url;
  // "Creating Sessions": initialise with the project API key from the
  // environment and an (empty) set of libraries to instrument.
  Laminar.initialize({
    projectApiKey: process.env.LAMINA_PROJECT_API_KEY,
    instrumentModules: {
      // your libraries to instrument
    },
  });
});

after(() => Laminar.shutdown());

test("withSession: all spans created within the function are associated with the session", async () => {
  const session123 = newId("session123");
  const traceIds = [];

  Laminar.withSession({ sessionId: session123 }, () => {
    // Your code here
    // All spans created within this function will be associated with session123
    observe({ name: "yourCode" }, () => {
      traceIds.push(Laminar.getTraceId());
      observe({ name: "child" }, () => 1);
      observe({ name: "child2" }, () => 2);
    });
  });

  const result = await session(session123);
  assert.equal(result.trace_count, 1);
  assert.equal(result.span_count, 3);
  assert.deepEqual(
    result.traces.map((t) => [t.trace_id, t.name, t.session_id]),
    [[traceIds[0], "yourCode", session123]],
  );
  const detail = await trace(traceIds[0]);
  assert.deepEqual(
    detail.spans.map((s) => s.name).sort(),
    ["child", "child2", "yourCode"],
  );
  const spans = spansByName(detail);
  assert.equal(spans.child.parent_span_id, spans.yourCode.span_id);
  assert.equal(spans.child2.parent_span_id, spans.yourCode.span_id);
  assert.equal(spans.yourCode.parent_span_id, null);
});

test("observe with a name and a sessionId: one trace named myFunction in the session", async () => {
  const session123 = newId("session123");

  // Set session ID in the observe function
  const returned = await observe(
    {
      name: "myFunction",
      sessionId: session123,
    },
    async () => {
      // Function code here
      await new Promise((resolve) => setTimeout(resolve, 1));
      return "done";
    },
  );

  assert.equal(returned, "done");
  const result = await session(session123);
  assert.equal(result.trace_count, 1);
  assert.equal(result.span_count, 1);
  assert.deepEqual(
    result.traces.map((t) => [t.name, t.session_id, t.status, t.output_preview]),
    [["myFunction", session123, "ok", "done"]],
  );
});

test("multi-step workflow: each step of the checkout is a separate trace of one session", async () => {
  const userId = newId("user");
  const steps = [];

  // Start a session for a user's checkout process
  const running = Laminar.withSession({ sessionId: `checkout-${userId}` }, async () => {
    // Each step in the process is a separate trace
    await observe({ name: "validateCart" }, async () => { steps.push(Laminar.getTraceId()); });
    await observe({ name: "processPayment" }, async () => { steps.push(Laminar.getTraceId()); });
    await observe({ name: "createOrder" }, async () => { steps.push(Laminar.getTraceId()); });
  });
  // (The seed does not await the workflow; the test does, before reading it back.)
  await running;

  const result = await session(`checkout-${userId}`);
  assert.equal(result.trace_count, 3);
  assert.equal(result.span_count, 3);
  assert.equal(result.error_count, 0);
  assert.deepEqual(
    result.traces.map((t) => t.name),
    ["validateCart", "processPayment", "createOrder"],
  );
  assert.deepEqual(result.traces.map((t) => t.trace_id), steps);
  assert.equal(new Set(steps).size, 3);
  assert.ok(result.traces.every((t) => t.session_id === `checkout-${userId}` && t.span_count === 1));
});

test("chatbot: each turn is a separate trace of the conversation's session", async () => {
  // The Python example (`@observe(session_id=conversation_id)`), the JS way.
  const conversationId = newId("conversation");
  const turns = ["Hello", "What can you do?", "Thanks, bye"];
  const handleTurn = (userMessage) =>
    observe({ name: "handleTurn", sessionId: conversationId }, async (message) => {
      // Process message, call LLMs, etc.
      return `echo: ${message}`;
    }, userMessage);

  const replies = [];
  for (const message of turns) replies.push(await handleTurn(message));

  assert.deepEqual(replies, turns.map((m) => `echo: ${m}`));
  const result = await session(conversationId);
  assert.equal(result.trace_count, 3);
  assert.deepEqual(result.traces.map((t) => t.name), ["handleTurn", "handleTurn", "handleTurn"]);
  assert.deepEqual(result.traces.map((t) => t.input_preview), turns);
  assert.equal(result.first_input, "Hello");
  assert.equal(result.last_output, "echo: Thanks, bye");
});

test("chatbot, manual session management: setSession inside the span puts the trace in the session", async () => {
  const conversationId = newId("conversation");
  const callLlm = (prompt) => observe({ name: "callLlm" }, (p) => p.toUpperCase(), prompt);
  const handleTurnAlt = (userMessage, conversation) =>
    observe({ name: "handleTurnAlt" }, (message, id) => {
      Laminar.setSession(id); // Must be within span context
      return callLlm(message);
    }, userMessage, conversation);

  handleTurnAlt("first", conversationId);
  handleTurnAlt("second", conversationId);

  const result = await session(conversationId);
  assert.equal(result.trace_count, 2);
  assert.equal(result.span_count, 4);
  const detail = await trace(result.traces[0].trace_id);
  assert.deepEqual(
    Object.fromEntries(detail.spans.map((s) => [s.name, s.attributes["session.id"]])),
    { handleTurnAlt: conversationId, callLlm: conversationId },
  );
});
