// Sessions, users, metadata and tags: where they apply, and that they never
// leak into other traces or other async work (the context is AsyncLocalStorage,
// through OpenTelemetry's context manager).

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { Laminar, observe } from "lamina-js";

import { initialize, newId, session, trace, traces } from "./support/server.mjs";

before(() => initialize());
after(() => Laminar.shutdown());

const step = (label) => observe({ name: "step" }, (x) => x, label);
const parentStep = (label) => observe({ name: "parentStep" }, (x) => step(`${x}/child`), label);

/** The id of a trace `fn` runs in, outside any session (as far as the test knows). */
function probe(fn) {
  return observe({ name: "probe" }, () => {
    const id = Laminar.getTraceId();
    fn();
    return id;
  });
}

test("nothing leaks after withSession returns", async () => {
  const sessionId = newId("s");
  Laminar.withSession({ sessionId, userId: "u-leak" }, () => parentStep("inside"));
  const afterwards = probe(() => step("after"));

  assert.equal((await session(sessionId)).trace_count, 1);
  const detail = await trace(afterwards);
  assert.equal(detail.session_id, null);
  assert.equal(detail.user_id, null);
  assert.ok(detail.spans.every((s) => s.session_id === null));
});

test("nothing leaks after an async withSession: not into code after the call, nor after it resolves", async () => {
  const sessionId = newId("s");
  const running = Laminar.withSession({ sessionId }, async () => {
    await sleep(5);
    step("inside, after an await");
  });
  const meanwhile = probe(() => step("while it runs"));
  await running;
  const afterwards = probe(() => step("after it resolved"));

  const result = await session(sessionId);
  assert.equal(result.trace_count, 1);
  assert.equal(result.traces[0].input_preview, "inside, after an await");
  for (const id of [meanwhile, afterwards]) assert.equal((await trace(id)).session_id, null);
});

test("nothing leaks after an observe with a sessionId returns", async () => {
  const sessionId = newId("s");
  await observe({ name: "turn", sessionId }, async () => parentStep("turn"));
  const afterwards = probe(() => step("after"));

  const result = await session(sessionId);
  assert.equal(result.trace_count, 1);
  assert.equal(result.span_count, 3);
  assert.equal((await trace(afterwards)).session_id, null);
});

test("nested withSession: the inner one applies inside, the outer one again after it", async () => {
  const outer = newId("outer");
  const inner = newId("inner");
  Laminar.withSession({ sessionId: outer }, () => {
    step("a");
    Laminar.withSession({ sessionId: inner }, () => step("b"));
    step("c");
  });
  assert.deepEqual((await session(outer)).traces.map((t) => t.input_preview), ["a", "c"]);
  assert.deepEqual((await session(inner)).traces.map((t) => t.input_preview), ["b"]);
});

test("observe's own sessionId wins over the enclosing withSession's", async () => {
  const outer = newId("outer");
  const own = newId("own");
  Laminar.withSession({ sessionId: outer, userId: "u-outer" }, () => {
    observe({ name: "mine", sessionId: own }, () => step("x"));
  });
  const result = await session(own);
  assert.equal(result.span_count, 2);
  assert.deepEqual(result.user_ids, ["u-outer"]);
  await assert.rejects(session(outer), /404|not found/i);
});

test("concurrent sessions in interleaved async tasks stay apart", async () => {
  const ids = Array.from({ length: 5 }, (_, i) => newId(`task${i}`));
  const answer = (question) =>
    observe({ name: "answer" }, async (q) => {
      await sleep(1 + Math.floor(Math.random() * 3)); // let the other tasks interleave
      return step(q.toUpperCase());
    }, question);
  const conversation = (sessionId) =>
    observe({ name: "conversation" }, async () => {
      for (let turn = 0; turn < 2; turn += 1) await answer(`${sessionId}-${turn}`);
    });

  await Promise.all(
    ids.map((sessionId) =>
      Laminar.withSession({ sessionId, userId: `user-of-${sessionId}` }, async () => {
        await conversation(sessionId);
        await sleep(1);
        await answer("second trace");
      }),
    ),
  );
  const outside = await answer("after all");

  for (const sessionId of ids) {
    const result = await session(sessionId);
    assert.equal(result.trace_count, 2);
    assert.equal(result.span_count, 1 + 2 * 2 + 2);
    assert.deepEqual(result.user_ids, [`user-of-${sessionId}`]);
    assert.deepEqual(result.traces.map((t) => t.name), ["conversation", "answer"]);
    const detail = await trace(result.traces[0].trace_id);
    const inputs = detail.spans.filter((s) => s.name === "answer").map((s) => JSON.parse(s.input)).sort();
    assert.deepEqual(inputs, [`${sessionId}-0`, `${sessionId}-1`]);
  }
  assert.equal(outside, "AFTER ALL");
  const stray = await traces({ q: "after all" });
  assert.ok(stray.length >= 1 && stray.every((t) => t.session_id === null));
});

test("callbacks scheduled inside a session (timers, immediates, events) belong to it", async () => {
  const sessionId = newId("callbacks");
  const emitter = new EventEmitter();
  const done = Laminar.withSession({ sessionId }, () => {
    const fired = [
      new Promise((resolve) => setTimeout(() => resolve(step("timeout")), 2)),
      new Promise((resolve) => setImmediate(() => resolve(step("immediate")))),
      new Promise((resolve) => queueMicrotask(() => resolve(step("microtask")))),
    ];
    emitter.on("ping", () => step("listener added inside"));
    return Promise.all(fired);
  });
  await done;
  // Emitted from outside: a listener runs in the context of the emit() call, so
  // that span is not in the session (use an AsyncResource to bind it, if wanted).
  emitter.emit("ping");
  const result = await session(sessionId);
  assert.deepEqual(
    result.traces.map((t) => t.input_preview).sort(),
    ["immediate", "microtask", "timeout"],
  );
});

test("setSession and setUser inside a span apply to the spans after them and end with the span", async () => {
  const sessionId = newId("set");
  const ids = [];
  const turn = (message) =>
    observe({ name: "handleTurn" }, (m) => {
      step("before");
      Laminar.setSession(sessionId);
      Laminar.setUser("u-set");
      Laminar.setMetadata({ source: "setter" });
      Laminar.setTags(["set"]);
      ids.push(Laminar.getTraceId());
      return step(`${m}/after`);
    }, message);
  turn("one");
  const afterwards = probe(() => step("after"));

  const result = await session(sessionId);
  assert.equal(result.trace_count, 1);
  assert.deepEqual(result.user_ids, ["u-set"]);
  const detail = await trace(ids[0]);
  assert.deepEqual(detail.metadata, { source: "setter" });
  assert.deepEqual(detail.tags, ["set"]);
  const bySession = detail.spans.map((s) => [s.name, s.input, s.session_id]).sort();
  assert.deepEqual(bySession, [
    ["handleTurn", '"one"', sessionId],
    ["step", '"before"', null],
    ["step", '"one/after"', sessionId],
  ]);
  assert.equal((await trace(afterwards)).session_id, null);
});

test("a setter outside any span does nothing (and says so once); withSession needs a sessionId", (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  Laminar.setSession("nowhere");
  Laminar.setSession("nowhere again");
  assert.equal(warn.mock.callCount(), 1);
  assert.match(warn.mock.calls[0].arguments[0], /setSession\(\) was called outside any span/);
  assert.throws(() => Laminar.withSession({}, () => 1), TypeError);
  assert.throws(() => Laminar.withSession({ sessionId: "" }, () => 1), TypeError);
  assert.equal(Laminar.withSession({ sessionId: "s" }, () => 7), 7);
});
