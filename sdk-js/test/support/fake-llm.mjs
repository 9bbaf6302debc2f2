// A local HTTP endpoint that answers like the OpenAI and Anthropic APIs: the
// Node twin of tests/fakes/llm.py, with the same wire formats and the same
// deterministic answers, so the real `openai` and `@anthropic-ai/sdk` clients
// (and the instrumentations wrapping them) run unchanged against it.
//
// - POST /v1/chat/completions: a chat completion, or a stream of
//   chat.completion.chunk events ending in `data: [DONE]` when `stream` is
//   true (with a usage chunk when stream_options.include_usage is set).
// - POST /v1/messages: an Anthropic message, or its event stream.
//
// The reply is "You said: <last user text>"; token counts are word counts.

import { createServer } from "node:http";

export const CREATED = 1_700_000_000;

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((b) => (b && typeof b === "object" ? String(b.text ?? "") : "")).join(" ");
  return "";
}

export function countTokens(text) {
  return Math.max(1, text.split(/\s+/).filter(Boolean).length);
}

export function replyTo(messages) {
  const last = [...(messages ?? [])].reverse().find((m) => m.role === "user");
  return `You said: ${last ? textOf(last.content) : ""}`;
}

export function promptTokens(body) {
  const texts = (body.messages ?? []).map((m) => textOf(m.content));
  if (body.system !== undefined) texts.push(textOf(body.system));
  return countTokens(texts.join(" "));
}

function words(text) {
  const parts = text.split(" ");
  return [...parts.slice(0, -1).map((p) => `${p} `), parts[parts.length - 1]];
}

function openaiCompletion(body) {
  const text = replyTo(body.messages);
  const inp = promptTokens(body);
  const out = countTokens(text);
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: CREATED,
    model: body.model ?? "gpt-4o-mini",
    choices: [
      { index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: "stop" },
    ],
    usage: { prompt_tokens: inp, completion_tokens: out, total_tokens: inp + out },
  };
}

function* openaiEvents(body) {
  const text = replyTo(body.messages);
  const model = body.model ?? "gpt-4o-mini";
  const chunk = (choices, extra = {}) =>
    `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: CREATED, model, choices, ...extra })}\n\n`;
  yield chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
  for (const word of words(text)) yield chunk([{ index: 0, delta: { content: word }, finish_reason: null }]);
  yield chunk([{ index: 0, delta: {}, finish_reason: "stop" }]);
  if (body.stream_options?.include_usage) {
    const inp = promptTokens(body);
    const out = countTokens(text);
    yield chunk([], { usage: { prompt_tokens: inp, completion_tokens: out, total_tokens: inp + out } });
  }
  yield "data: [DONE]\n\n";
}

function anthropicMessage(body) {
  const text = replyTo(body.messages);
  return {
    id: "msg_fake",
    type: "message",
    role: "assistant",
    model: body.model ?? "claude-3-5-haiku-20241022",
    content: [{ type: "text", text }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: promptTokens(body), output_tokens: countTokens(text) },
  };
}

function* anthropicEvents(body) {
  const text = replyTo(body.messages);
  const event = (kind, data) => `event: ${kind}\ndata: ${JSON.stringify({ type: kind, ...data })}\n\n`;
  const message = {
    id: "msg_fake",
    type: "message",
    role: "assistant",
    model: body.model ?? "claude-3-5-haiku-20241022",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: promptTokens(body), output_tokens: 0 },
  };
  yield event("message_start", { message });
  yield event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
  yield event("ping", {});
  for (const word of words(text)) yield event("content_block_delta", { index: 0, delta: { type: "text_delta", text: word } });
  yield event("content_block_stop", { index: 0 });
  yield event("message_delta", {
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: countTokens(text) },
  });
  yield event("message_stop", {});
}

/** Start the fake on an ephemeral local port: `{ url, openaiBaseUrl, anthropicBaseUrl, requests, close() }`. */
export async function startFakeLLM() {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = raw ? JSON.parse(raw) : {};
      const path = req.url.split("?")[0];
      requests.push({ path, headers: req.headers, body });
      const json = (data, status = 200) => {
        const payload = JSON.stringify(data);
        res.writeHead(status, { "content-type": "application/json", "request-id": "req_fake" });
        res.end(payload);
      };
      const stream = (events) => {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        for (const text of events) res.write(text);
        res.end();
      };
      if (path.endsWith("/chat/completions")) {
        if (body.stream) stream(openaiEvents(body));
        else json(openaiCompletion(body));
      } else if (path.endsWith("/messages")) {
        if (body.stream) stream(anthropicEvents(body));
        else json(anthropicMessage(body));
      } else {
        json({ error: { message: `no route ${path}` } }, 404);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    anthropicBaseUrl: url,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
