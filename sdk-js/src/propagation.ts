/**
 * Carrying a trace, and its session and user, across services.
 *
 * The trace travels in the W3C `traceparent`/`tracestate` headers; the session
 * and user travel in W3C `baggage` (`lamina.session_id`, `lamina.user_id`), the
 * same headers the Python SDK writes and reads, so a Node front end and a
 * Python back end (or the other way round) share traces and sessions.
 */

import type { Context, TextMapGetter } from "@opentelemetry/api";
import { context, defaultTextMapSetter, propagation } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";

import { current, make, withAssociation } from "./association.js";

export const SESSION_BAGGAGE = "lamina.session_id";
export const USER_BAGGAGE = "lamina.user_id";

const PROPAGATOR = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

export type Headers = Record<string, string | string[] | undefined>;

/** Reads headers from any object, whatever the case of its keys. */
const GETTER: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    let value = carrier[key];
    if (value === undefined) {
      const lowered = key.toLowerCase();
      const found = Object.keys(carrier).find((k) => k.toLowerCase() === lowered);
      value = found === undefined ? undefined : carrier[found];
    }
    return value;
  },
};

/** The current trace context (and session, user) as headers, added to `headers`. */
export function inject(headers: Record<string, string> = {}): Record<string, string> {
  let ctx = context.active();
  const association = current(ctx);
  if (association?.sessionId || association?.userId) {
    let bag = propagation.getBaggage(ctx) ?? propagation.createBaggage();
    if (association.sessionId) bag = bag.setEntry(SESSION_BAGGAGE, { value: association.sessionId });
    if (association.userId) bag = bag.setEntry(USER_BAGGAGE, { value: association.userId });
    ctx = propagation.setBaggage(ctx, bag);
  }
  PROPAGATOR.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

/** The current context continued from `headers` (as {@link inject} wrote them). */
export function extract(headers: Headers): Context {
  let ctx = PROPAGATOR.extract(context.active(), headers, GETTER);
  const bag = propagation.getBaggage(ctx);
  const association = make({
    sessionId: bag?.getEntry(SESSION_BAGGAGE)?.value || undefined,
    userId: bag?.getEntry(USER_BAGGAGE)?.value || undefined,
  });
  if (association !== undefined) ctx = withAssociation(ctx, association);
  return ctx;
}
