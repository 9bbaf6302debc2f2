/**
 * The options of `Laminar.score`, checked and made into what the server is
 * sent (`POST /api/v1/scores`). A mistake is logged by `Laminar` and the score
 * dropped, never thrown into the application: the same rules as the Python
 * SDK's `lamina/sdk/score_args.py`.
 */

import { randomUUID } from "node:crypto";

export const MAX_NAME_CHARS = 200;

export interface ScoreOptions {
  name: string;
  /** A number, or a boolean (1 or 0). */
  value?: number | boolean | undefined;
  /** A category (for a categorical score config, such as the built-in `outcome`). */
  label?: string | undefined;
  sessionId?: string | undefined;
  /** 32 hex digits, as `Laminar.getTraceId()` gives it. */
  traceId?: string | undefined;
  /** 16 hex digits; needs the `traceId` of its trace. */
  spanId?: string | undefined;
  comment?: string | undefined;
}

/** A score that cannot be sent; the message says why. */
export class ScoreArgumentError extends Error {
  override name = "ScoreArgumentError";
}

const newScoreId = () => randomUUID().replace(/-/g, "");

function hexId(name: string, value: unknown, digits: number): string {
  if (typeof value === "string") {
    const text = value.trim().toLowerCase().replace(/-/g, "");
    if (text.length === digits && /^[0-9a-f]+$/.test(text)) return text;
  }
  throw new ScoreArgumentError(
    `${name} must be ${digits} hex digits (as Laminar.getTraceId() and the JSON API give it), got ${JSON.stringify(value)}`,
  );
}

/** The score as the server takes it, with a `score_id` made now (a retry is never a second score). */
export function scorePayload(options: ScoreOptions): Record<string, unknown> {
  const { name, value, label, sessionId, traceId, spanId, comment } = options;
  if (typeof name !== "string" || !name.trim()) throw new ScoreArgumentError("name must be a non-empty string");
  if (name.length > MAX_NAME_CHARS) throw new ScoreArgumentError(`name is longer than ${MAX_NAME_CHARS} characters`);
  const payload: Record<string, unknown> = { score_id: newScoreId(), name: name.trim() };
  if (value !== undefined && value !== null) {
    if (typeof value === "boolean") payload.value = value ? 1 : 0;
    else if (typeof value === "number" && Number.isFinite(value)) payload.value = value;
    else {
      throw new ScoreArgumentError(
        `value must be a finite number or a boolean, got ${JSON.stringify(value)} (give a category as label)`,
      );
    }
  }
  if (label !== undefined && label !== null) {
    if (typeof label !== "string" || !label) throw new ScoreArgumentError("label must be a non-empty string");
    payload.label = label;
  }
  if (payload.value === undefined && payload.label === undefined) {
    throw new ScoreArgumentError("give a value (a number or a boolean) or a label");
  }
  if (sessionId !== undefined && sessionId !== null) {
    if (typeof sessionId !== "string" || !sessionId.trim()) {
      throw new ScoreArgumentError("sessionId must be a non-empty string");
    }
    payload.session_id = sessionId.trim();
  }
  if (traceId !== undefined && traceId !== null) payload.trace_id = hexId("traceId", traceId, 32);
  if (spanId !== undefined && spanId !== null) {
    if (payload.trace_id === undefined) throw new ScoreArgumentError("spanId needs the traceId of its trace");
    payload.span_id = hexId("spanId", spanId, 16);
  }
  if (payload.session_id === undefined && payload.trace_id === undefined) {
    throw new ScoreArgumentError(
      "it has no target: pass sessionId or traceId, or call it inside a function run by " +
        "observe(...) to score the current trace",
    );
  }
  if (comment !== undefined && comment !== null) payload.comment = String(comment);
  payload.source = "sdk";
  return payload;
}

/** A session's outcome: the built-in categorical score `outcome`. */
export function outcomePayload(sessionId: string, outcome: string): Record<string, unknown> {
  return { score_id: newScoreId(), name: "outcome", label: outcome, session_id: sessionId, source: "sdk" };
}
