/**
 * The span attribute names the SDK writes, and the span types.
 *
 * They are the open names of Lamina's attribute conventions (ARCHITECTURE.md),
 * the same ones the Python SDK writes, so any OpenTelemetry backend can read
 * the data; only the span type has a Lamina name.
 */

export const SESSION_ID = "session.id";
export const USER_ID = "user.id";
/** A JSON object, as text. */
export const METADATA = "metadata";
/** An array of strings. */
export const TAGS = "tag.tags";
export const SPAN_TYPE = "lamina.span.type";
/** JSON text. */
export const INPUT = "input.value";
/** JSON text. */
export const OUTPUT = "output.value";

export const SPAN_TYPES = [
  "DEFAULT",
  "LLM",
  "TOOL",
  "EXECUTOR",
  "EVALUATOR",
  "EVALUATION",
  "PIPELINE",
] as const;

export type SpanType = (typeof SPAN_TYPES)[number];

/** The span type in its canonical upper case; a TypeError for an unknown one. */
export function checkSpanType(spanType: unknown): SpanType {
  const canonical = typeof spanType === "string" ? spanType.toUpperCase() : spanType;
  if (!(SPAN_TYPES as readonly unknown[]).includes(canonical)) {
    throw new TypeError(
      `unknown spanType ${JSON.stringify(spanType)}: use one of ${[...SPAN_TYPES].sort().join(", ")}`,
    );
  }
  return canonical as SpanType;
}
