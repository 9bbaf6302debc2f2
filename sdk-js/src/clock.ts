/**
 * Span times with sub-millisecond resolution.
 *
 * OpenTelemetry JS starts a span at `Date.now()`, a whole millisecond, so the
 * steps of a fast workflow often start "at the same time" and a session's
 * traces lose their order. The SDK gives its spans (and its
 * instrumentations') start and end times from this clock instead: the
 * monotonic `performance.now()`, anchored to the wall clock, and re-anchored
 * when the two drift apart by more than a few milliseconds (a clock step, or
 * a long-running process).
 */

import type { HrTime, Span, TimeInput } from "@opentelemetry/api";
import { millisToHrTime } from "@opentelemetry/core";

const MAX_DRIFT_MILLIS = 5;

let anchorWall = Date.now();
let anchorMonotonic = performance.now();

/** Now, as an OpenTelemetry HrTime. */
export function preciseNow(): HrTime {
  const monotonic = performance.now();
  let wall = anchorWall + (monotonic - anchorMonotonic);
  const actual = Date.now();
  if (Math.abs(actual - wall) > MAX_DRIFT_MILLIS) {
    anchorWall = actual;
    anchorMonotonic = monotonic;
    wall = actual;
  }
  return millisToHrTime(wall);
}

/** `span`, ending at {@link preciseNow} when `end()` is given no time. */
export function endsPrecisely<S extends Span>(span: S): S {
  const end = span.end.bind(span);
  span.end = (endTime?: TimeInput) => end(endTime ?? preciseNow());
  return span;
}
