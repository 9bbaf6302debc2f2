/**
 * `observe`: run a function as a span.
 *
 * ```ts
 * await observe({ name: "myFunction", sessionId: "session123" }, async (x) => { ... }, x);
 * ```
 *
 * The span records the call's input (its arguments, or `options.input`), its
 * output (what the function returned, or what its promise resolved to; not
 * the items of a generator it returned), and
 * an error it threw or rejected with (an `exception` event and status ERROR;
 * the error itself is re-thrown unchanged). The function runs with the span
 * as the current one, so spans started inside it, through any number of
 * `await`s, are its children; a top-level `observe` starts a new trace.
 *
 * `sessionId`, `userId`, `metadata` and `tags` apply to this span and every
 * span started inside it, so a top-level call's whole trace joins the session.
 */

import type { Attributes, Context, Span } from "@opentelemetry/api";
import { SpanStatusCode, context, trace } from "@opentelemetry/api";

import { Cell, cellOf, make, merge, withCell } from "./association.js";
import * as attr from "./attributes.js";
import { type SpanType, checkSpanType } from "./attributes.js";
import { preciseNow } from "./clock.js";
import { state } from "./runtime.js";
import { toJson } from "./serialize.js";

export interface ObserveOptions {
  /** The span's name; default: the function's name. */
  name?: string;
  sessionId?: string;
  userId?: string;
  metadata?: Record<string, unknown>;
  tags?: string[];
  /** DEFAULT, LLM, TOOL, EXECUTOR, EVALUATOR, EVALUATION or PIPELINE. */
  spanType?: SpanType | Lowercase<SpanType>;
  /** Recorded as the input instead of the arguments. */
  input?: unknown;
  ignoreInput?: boolean;
  ignoreOutput?: boolean;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return String(error);
  } catch {
    return "<unprintable error>";
  }
}

/** Record `error` on `span` (an exception event and status ERROR); never throws. */
export function recordError(span: Span, error: unknown): void {
  try {
    span.recordException(error instanceof Error ? error : describe(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
  } catch {
    // recording must never hide the application's own error
  }
}

interface Started {
  span: Span;
  context: Context;
  limit: number;
  ignoreOutput: boolean;
}

function start(options: ObserveOptions, fn: (...args: never[]) => unknown, args: unknown[]): Started | undefined {
  const runtime = state().runtime;
  if (runtime === undefined) return undefined;
  const limit = runtime.settings.maxPayloadChars;
  const attributes: Attributes = { [attr.SPAN_TYPE]: checkSpanType(options.spanType ?? "DEFAULT") };
  if (!options.ignoreInput) {
    const input = options.input !== undefined ? options.input : args.length === 0 ? undefined : args.length === 1 ? args[0] : args;
    if (input !== undefined) attributes[attr.INPUT] = toJson(input, limit);
  }
  const own = make(options);
  const parent = context.active();
  // The span's own cell: the association it and its children get, which
  // Laminar.setSession() and the other setters may change while it runs.
  const cell = new Cell(merge(cellOf(parent)?.association, own));
  const spanParent = withCell(parent, cell);
  const name = options.name ?? (fn.name || "anonymous");
  const span = runtime.tracer.startSpan(name, { attributes, startTime: preciseNow() }, spanParent);
  cell.owner = span;
  return { span, context: trace.setSpan(spanParent, span), limit, ignoreOutput: options.ignoreOutput === true };
}

/** A generator's (or any iterator's) items are not the function's output: record none. */
function isIterator(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { next?: unknown }).next === "function" &&
    (Symbol.iterator in value || Symbol.asyncIterator in value)
  );
}

function finish(started: Started, value: unknown): void {
  try {
    if (!started.ignoreOutput && value !== undefined && !isIterator(value)) {
      started.span.setAttribute(attr.OUTPUT, toJson(value, started.limit));
    }
  } finally {
    started.span.end(preciseNow());
  }
}

function fail(started: Started, error: unknown): void {
  recordError(started.span, error);
  started.span.end(preciseNow());
}

/**
 * Run `fn(...args)` as a span and return what it returns: for an async
 * function, a promise of its result, settled once the span has ended.
 */
export function observe<A extends unknown[], R>(options: ObserveOptions, fn: (...args: A) => R, ...args: A): R {
  if (typeof fn !== "function") {
    throw new TypeError(`observe(options, fn, ...args): fn must be a function, got ${typeof fn}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError("observe(options, fn, ...args): options must be an object such as { name: 'step' }");
  }
  if (options.name !== undefined && typeof options.name !== "string") {
    throw new TypeError(`observe: name must be a string, got ${typeof options.name}`);
  }
  checkSpanType(options.spanType ?? "DEFAULT");
  make(options); // the same checks as when tracing, whether or not the SDK is initialised

  let started: Started | undefined;
  try {
    started = start(options, fn as (...args: never[]) => unknown, args);
  } catch (error) {
    if (error instanceof TypeError) throw error;
    started = undefined; // tracing failed: run the function untraced rather than fail it
  }
  if (started === undefined) return fn(...args);

  let result: R;
  try {
    result = context.with(started.context, fn, undefined, ...args);
  } catch (error) {
    fail(started, error);
    throw error;
  }
  if (!isThenable(result)) {
    finish(started, result);
    return result;
  }
  const running = started;
  return Promise.resolve(result).then(
    (value) => {
      finish(running, value);
      return value;
    },
    (error: unknown) => {
      fail(running, error);
      throw error;
    },
  ) as R;
}
