/**
 * `Laminar`: the SDK's entry point, used as a class (`Laminar.initialize(...)`),
 * with the same functions and semantics as the Python SDK's, in camelCase.
 */

import type { Attributes } from "@opentelemetry/api";
import { context, trace } from "@opentelemetry/api";

import { type Association, cellOf, make, merge, withAssociation } from "./association.js";
import * as attr from "./attributes.js";
import { type InitializeOptions, resolveSettings } from "./config.js";
import { type Headers, extract, inject } from "./propagation.js";
import { Runtime, ensureContextManager, ensureExitHook, state } from "./runtime.js";
import { type ScoreOptions, ScoreArgumentError, outcomePayload, scorePayload } from "./score-args.js";
import { toJson } from "./serialize.js";

export const DEFAULT_FLUSH_TIMEOUT_MILLIS = 5_000;

export interface SessionOptions {
  sessionId: string;
  userId?: string;
  metadata?: Record<string, unknown>;
}

const warned = new Set<string>();

function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  console.warn(message);
}

function warn(message: string): void {
  console.warn(message);
}

function currentRecordingSpan(setter: string) {
  const span = trace.getActiveSpan();
  if (span !== undefined && span.isRecording()) return span;
  warnOnce(
    setter,
    `Lamina: Laminar.${setter}() was called outside any span, so it does nothing. Call it ` +
      "inside a function run by observe(...), or use Laminar.withSession(...) / " +
      "observe({ sessionId, ... }, fn) to set it from outside.",
  );
  return undefined;
}

/**
 * Apply `association` to the current trace: on the current span now, and on
 * every span started inside it from now on (until it ends).
 */
function associate(setter: string, association: Association | undefined): void {
  if (association === undefined) return;
  const span = currentRecordingSpan(setter);
  if (span === undefined) return;
  const cell = cellOf(context.active());
  const merged = merge(cell?.association, association);
  if (cell !== undefined && cell.owner === span) cell.association = merged;
  if (merged !== undefined) span.setAttributes(merged.attributes);
}

export class Laminar {
  private constructor() {
    throw new TypeError("Laminar is used as a class: call Laminar.initialize(...)");
  }

  // -- set-up ----------------------------------------------------------------

  /**
   * Start sending traces to a Lamina server. Options left out come from the
   * environment (`LAMINA_PROJECT_API_KEY`, `LAMINA_BASE_URL`, ...), then
   * defaults. Throws {@link LaminaConfigError} for a setting it cannot use.
   * Calling it again replaces the previous set-up (which is flushed and shut
   * down in the background).
   */
  static initialize(options: InitializeOptions = {}): void {
    const settings = resolveSettings(options);
    ensureContextManager();
    const current = state();
    const old = current.runtime;
    current.runtime = undefined;
    if (old !== undefined) void old.shutdown(DEFAULT_FLUSH_TIMEOUT_MILLIS);
    current.runtime = new Runtime(settings, warn);
    ensureExitHook();
  }

  static isInitialized(): boolean {
    return state().runtime !== undefined;
  }

  /**
   * Send every span ended and every score given so far; wait at most `timeoutMillis`. Resolves to
   * true when they were all delivered to the server in time. Never rejects.
   */
  static flush(timeoutMillis: number = DEFAULT_FLUSH_TIMEOUT_MILLIS): Promise<boolean> {
    const runtime = state().runtime;
    return runtime === undefined ? Promise.resolve(true) : runtime.flush(timeoutMillis);
  }

  /** Flush (at most `timeoutMillis`), then stop tracing. Never rejects. */
  static async shutdown(timeoutMillis: number = DEFAULT_FLUSH_TIMEOUT_MILLIS): Promise<void> {
    const current = state();
    const runtime = current.runtime;
    current.runtime = undefined;
    if (runtime !== undefined) {
      try {
        await runtime.shutdown(timeoutMillis);
      } catch {
        // shutting down must not fail the application
      }
    }
  }

  // -- sessions, users, metadata, tags -----------------------------------------

  /**
   * Run `fn` so that every trace started inside it belongs to session
   * `sessionId` (and user `userId`); returns what `fn` returns. Each top-level
   * span started inside is its own trace; nested ones are its children.
   * Nothing of it applies to code that runs after `fn` returns (or, for an
   * async `fn`, outside the promise chain it started).
   */
  static withSession<R>(options: SessionOptions, fn: () => R): R {
    if (options === null || typeof options !== "object") {
      throw new TypeError("withSession needs { sessionId: ... }");
    }
    const association = make({ sessionId: options.sessionId, userId: options.userId, metadata: options.metadata });
    if (association === undefined || !association.sessionId) {
      throw new TypeError("withSession needs a non-empty sessionId");
    }
    if (typeof fn !== "function") throw new TypeError("withSession(options, fn): fn must be a function");
    return context.with(withAssociation(context.active(), association), fn);
  }

  /** Put the current trace in session `sessionId` (call inside an observed function). */
  static setSession(sessionId: string): void {
    associate("setSession", make({ sessionId }));
  }

  /** Attribute the current trace to user `userId` (call inside an observed function). */
  static setUser(userId: string): void {
    associate("setUser", make({ userId }));
  }

  /** Add `metadata` to the current trace (call inside an observed function). */
  static setMetadata(metadata: Record<string, unknown>): void {
    associate("setMetadata", make({ metadata }));
  }

  /** Add `tags` to the current trace (call inside an observed function). */
  static setTags(tags: string[]): void {
    associate("setTags", make({ tags }));
  }

  // The current Laminar SDK's names for the three above (the seed's names, above, were
  // renamed since): code written for either version runs after changing its import.

  /** The Laminar SDK's name for {@link setSession}. */
  static setTraceSessionId(sessionId: string): void {
    associate("setTraceSessionId", make({ sessionId }));
  }

  /** The Laminar SDK's name for {@link setUser}. */
  static setTraceUserId(userId: string): void {
    associate("setTraceUserId", make({ userId }));
  }

  /** The Laminar SDK's name for {@link setMetadata}. */
  static setTraceMetadata(metadata: Record<string, unknown>): void {
    associate("setTraceMetadata", make({ metadata }));
  }

  // -- spans -------------------------------------------------------------------

  /** Record `output` as the current span's output (instead of the function's return value, if set last). */
  static setSpanOutput(output: unknown): void {
    const span = currentRecordingSpan("setSpanOutput");
    const runtime = state().runtime;
    if (span !== undefined && runtime !== undefined) {
      span.setAttribute(attr.OUTPUT, toJson(output, runtime.settings.maxPayloadChars));
    }
  }

  /** Add an event (a timestamped note) to the current span. */
  static event(name: string, attributes?: Attributes): void {
    const span = currentRecordingSpan("event");
    if (span !== undefined) span.addEvent(name, attributes);
  }

  /** The current trace's id (32 hex digits, as the JSON API shows it), or undefined. */
  static getTraceId(): string | undefined {
    const spanContext = trace.getActiveSpan()?.spanContext();
    return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
  }

  // -- scores and session outcomes ---------------------------------------------

  /**
   * Score a session (`sessionId`), a trace (`traceId`) or a span of it
   * (`spanId`): `value` a number (or a boolean), `label` a category, or both.
   * With neither `sessionId` nor `traceId`, inside an observed function, it
   * scores the current trace. Queued and sent in the background (retried while
   * the server is unreachable); returns the score's id, or undefined when it was
   * not queued (the reason is logged). Never throws, never waits.
   */
  static score(options: ScoreOptions): string | undefined {
    try {
      const given = options !== null && typeof options === "object" ? options : ({} as ScoreOptions);
      const traceId = given.traceId ?? (given.sessionId === undefined ? Laminar.getTraceId() : undefined);
      const payload = scorePayload({ ...given, traceId });
      const runtime = state().runtime;
      if (runtime === undefined) throw new ScoreArgumentError("Laminar.initialize() has not run, so it is not sent");
      runtime.scores.addScore(payload);
      return payload.score_id as string;
    } catch (error) {
      warn(`Lamina: Laminar.score(${JSON.stringify(options?.name)}) ignored: ${(error as Error).message}`);
      return undefined;
    }
  }

  /**
   * Mark session `sessionId` ended, with an `outcome` (`success`, `partial`,
   * `failure`, `abandoned` or `unknown`) when given. Sent in the background
   * like scores; never throws, never waits.
   */
  static endSession(sessionId: string, outcome?: string): void {
    try {
      if (typeof sessionId !== "string" || !sessionId.trim()) {
        throw new ScoreArgumentError("sessionId must be a non-empty string");
      }
      if (outcome !== undefined && outcome !== null && (typeof outcome !== "string" || !outcome)) {
        throw new ScoreArgumentError("outcome must be a non-empty string such as \"success\"");
      }
      const runtime = state().runtime;
      if (runtime === undefined) throw new ScoreArgumentError("Laminar.initialize() has not run, so it is not sent");
      // The outcome goes as a score with an id of ours, so a retry of it is never a
      // second outcome; the end itself is the same however often it is sent.
      if (outcome) runtime.scores.addScore(outcomePayload(sessionId.trim(), outcome));
      runtime.scores.addSessionEnd(sessionId.trim());
    } catch (error) {
      warn(`Lamina: Laminar.endSession(${JSON.stringify(sessionId)}) ignored: ${(error as Error).message}`);
    }
  }

  // -- across services ---------------------------------------------------------

  /**
   * HTTP headers that carry the current trace, session and user to another
   * service (W3C `traceparent`, `tracestate`, `baggage`), added to `headers`.
   */
  static getTraceHeaders(headers: Record<string, string> = {}): Record<string, string> {
    return inject(headers);
  }

  /**
   * Run `fn` so that spans started inside it continue the trace, session and
   * user that `headers` carry (from {@link getTraceHeaders} on the calling side,
   * in any language); returns what `fn` returns.
   */
  static continueTrace<R>(headers: Headers, fn: () => R): R {
    return context.with(extract(headers ?? {}), fn);
  }
}
