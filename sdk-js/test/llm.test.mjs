// instrumentModules: the real `openai` and `@anthropic-ai/sdk` clients, traced
// through @traceloop/instrumentation-openai and -anthropic, against a local
// endpoint speaking their wire formats (support/fake-llm.mjs): LLM spans with
// model, tokens, cost, input and output, in the session of the code around them.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

import { LaminaConfigError, Laminar, observe } from "lamina-js";

import { startFakeLLM } from "./support/fake-llm.mjs";
import { initialize, newId, session, spansByName, trace } from "./support/server.mjs";

let fake;
let openai;
let anthropic;

// Prices of src/lamina/data/prices.json, USD per million tokens.
const PRICES = { "gpt-4o-mini": [0.15, 0.6], "claude-3-5-haiku-20241022": [0.8, 4] };
const costOf = (model, input, output) => (input * PRICES[model][0] + output * PRICES[model][1]) / 1e6;
const words = (text) => text.split(/\s+/).filter(Boolean).length;

before(async () => {
  fake = await startFakeLLM();
  openai = new OpenAI({ baseURL: fake.openaiBaseUrl, apiKey: "sk-fake", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: fake.anthropicBaseUrl, apiKey: "sk-ant-fake", maxRetries: 0 });
  await initialize({ instrumentModules: { openAI: OpenAI, anthropic: Anthropic } });
});

after(async () => {
  await Laminar.shutdown();
  await fake.close();
});

async function onlyTrace(sessionId) {
  const result = await session(sessionId);
  assert.equal(result.trace_count, 1);
  return trace(result.traces[0].trace_id);
}

test("an OpenAI chat completion is an LLM span inside the observed function, in its session", async () => {
  const sessionId = newId("openai");
  const reply = await observe({ name: "answer", sessionId, userId: "u-llm" }, async (question) => {
    const completion = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: question },
      ],
    });
    return completion.choices[0].message.content;
  }, "Where is my order?");

  assert.equal(reply, "You said: Where is my order?");
  const detail = await onlyTrace(sessionId);
  const spans = detail.spans;
  assert.equal(spans.length, 2);
  const root = spansByName(detail).answer;
  const llm = spans.find((s) => s !== root);
  const tokens = [words("Be brief. Where is my order?"), words(reply)];
  assert.equal(llm.span_type, "LLM");
  assert.equal(llm.parent_span_id, root.span_id);
  assert.deepEqual([llm.model, llm.provider], ["gpt-4o-mini", "openai"]);
  assert.deepEqual([llm.input_tokens, llm.output_tokens], tokens);
  assert.ok(Math.abs(llm.cost - costOf("gpt-4o-mini", ...tokens)) < 1e-12, `cost ${llm.cost}`);
  assert.equal(llm.session_id, sessionId);
  assert.equal(llm.user_id, "u-llm");
  assert.match(llm.input, /Where is my order\?/);
  assert.match(llm.input, /Be brief\./);
  assert.match(llm.output, /You said: Where is my order\?/);
  assert.deepEqual([detail.input_tokens, detail.output_tokens], tokens);
});

test("a streamed OpenAI completion is an LLM span with its model and the whole output", async () => {
  const sessionId = newId("stream");
  const text = await Laminar.withSession({ sessionId }, async () => {
    const stream = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Stream it please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let collected = "";
    for await (const chunk of stream) collected += chunk.choices[0]?.delta?.content ?? "";
    return collected;
  });

  assert.equal(text, "You said: Stream it please");
  const [llm] = (await onlyTrace(sessionId)).spans;
  assert.equal(llm.span_type, "LLM");
  assert.equal(llm.session_id, sessionId);
  assert.deepEqual([llm.model, llm.provider], ["gpt-4o-mini", "openai"]);
  assert.match(llm.input, /Stream it please/);
  assert.match(llm.output, /You said: Stream it please/);
  // @traceloop/instrumentation-openai 0.27 does not read a stream's usage chunk,
  // so a streamed call has no token counts (docs/compatibility.md says so).
});

test("an Anthropic message is an LLM span with its model, tokens and cost", async () => {
  const sessionId = newId("anthropic");
  const message = await observe({ name: "ask", sessionId }, () =>
    anthropic.messages.create({
      model: "claude-3-5-haiku-20241022",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello Claude" }],
    }),
  );

  assert.equal(message.content[0].text, "You said: Hello Claude");
  const detail = await onlyTrace(sessionId);
  const llm = detail.spans.find((s) => s.name !== "ask");
  const tokens = [words("Hello Claude"), words("You said: Hello Claude")];
  assert.equal(llm.span_type, "LLM");
  assert.deepEqual([llm.model, llm.provider], ["claude-3-5-haiku-20241022", "anthropic"]);
  assert.deepEqual([llm.input_tokens, llm.output_tokens], tokens);
  assert.ok(Math.abs(llm.cost - costOf("claude-3-5-haiku-20241022", ...tokens)) < 1e-12, `cost ${llm.cost}`);
  assert.match(llm.input, /Hello Claude/);
  assert.match(llm.output, /You said: Hello Claude/);
});

test("initialize again: the module is not patched twice; left out, it is not traced", async () => {
  await initialize({ instrumentModules: { openAI: OpenAI } });
  const twice = newId("twice");
  await observe({ name: "call", sessionId: twice }, () =>
    openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "once" }] }),
  );
  assert.equal((await onlyTrace(twice)).spans.length, 2);

  await initialize({ instrumentModules: {} });
  const without = newId("without");
  await observe({ name: "call", sessionId: without }, () =>
    openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "untraced" }] }),
  );
  assert.equal((await onlyTrace(without)).spans.length, 1);

  await initialize({ instrumentModules: { openAI: OpenAI, anthropic: Anthropic } });
});

test("after shutdown the client still works, untraced", async () => {
  await Laminar.shutdown();
  const completion = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "still there?" }],
  });
  assert.equal(completion.choices[0].message.content, "You said: still there?");
  await initialize({ instrumentModules: { openAI: OpenAI, anthropic: Anthropic } });
});

test("a value that is not the module named is a configuration error", () => {
  assert.throws(() => Laminar.initialize({ projectApiKey: "k", instrumentModules: { openAI: {} } }), LaminaConfigError);
  assert.throws(
    () => Laminar.initialize({ projectApiKey: "k", instrumentModules: { openai: OpenAI } }),
    (error) => error instanceof LaminaConfigError && /unknown "openai"; supported: openAI, anthropic/.test(error.message),
  );
});
