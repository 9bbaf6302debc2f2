/**
 * The SDK's two span processors.
 *
 * {@link AssociationProcessor} writes the session, user, metadata and tags of
 * the context's association on every span as it starts.
 *
 * {@link ExportProcessor} queues finished spans and exports them in batches,
 * one request at a time, built so that tracing never hurts the application:
 *
 * - ending a span only appends to a bounded queue; when the queue is full the
 *   span is dropped and counted, never waited for;
 * - a failed export (server down, slow or answering errors) drops its batch
 *   and counts it; the first failure is logged once, with the reason, and a
 *   recovery is logged when exports succeed again;
 * - `flush` waits for every span ended before it, including a batch already
 *   on its way, and says whether they were all delivered; `flush` and
 *   `shutdown` never wait longer than their timeout;
 * - its timer never keeps the process alive.
 */

import type { Context } from "@opentelemetry/api";
import { ROOT_CONTEXT, TraceFlags, context as contextApi } from "@opentelemetry/api";
import { ExportResultCode, suppressTracing } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";

import { current } from "./association.js";

export type Warn = (message: string) => void;

export class AssociationProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const association = current(parentContext);
    if (association !== undefined) span.setAttributes(association.attributes);
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface ExportProcessorOptions {
  maxQueueSize: number;
  exportTimeoutMillis: number;
  endpoint: string;
  warn: Warn;
  maxBatchSize?: number;
  scheduleDelayMillis?: number;
}

/**
 * A promise of `value` that settles at the latest after `millis`, with
 * `fallback`. Its timer keeps the process alive (someone is waiting) unless
 * `keepAlive` is false.
 */
export function within<T>(promise: Promise<T>, millis: number, fallback: T, keepAlive = true): Promise<T> {
  return new Promise<T>((resolve) => {
    const timer = setTimeout(() => resolve(fallback), Math.max(0, millis));
    if (!keepAlive) timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

export class ExportProcessor implements SpanProcessor {
  exported = 0;
  droppedQueueFull = 0;
  droppedExportFailed = 0;
  /** Whether the last export failed. */
  failing = false;
  /** A span has ended since the last flush started (for the exit hook). */
  dirty = false;
  /** Spans taken from the queue for export and not yet known delivered or lost. */
  private pending = 0;

  private readonly exporter: SpanExporter;
  private readonly options: Required<ExportProcessorOptions>;
  private queue: ReadableSpan[] = [];
  /** The exports, one after the other: each link says whether its spans were delivered. */
  private chain: Promise<boolean> = Promise.resolve(true);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(exporter: SpanExporter, options: ExportProcessorOptions) {
    this.exporter = exporter;
    this.options = { maxBatchSize: 512, scheduleDelayMillis: 1000, ...options };
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped) return; // a span that outlived Laminar.shutdown()
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      this.droppedQueueFull += 1;
      if (this.droppedQueueFull === 1) {
        this.options.warn(
          `Lamina: the span queue is full (${this.options.maxQueueSize} spans; the server at ` +
            `${this.options.endpoint} is not keeping up or is unreachable), so new spans are ` +
            "being dropped. This is logged once; the count is logged at shutdown.",
        );
      }
      return;
    }
    this.queue.push(span);
    this.dirty = true;
    if (this.queue.length >= this.options.maxBatchSize) {
      this.drainSoon();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.drainSoon(), this.options.scheduleDelayMillis);
      this.timer.unref?.();
    }
  }

  /** Queue an export of every span queued now, after the exports before it. */
  private drainSoon(): Promise<boolean> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const spans = this.queue;
    this.queue = [];
    this.pending += spans.length;
    const link = this.chain.then(() => this.exportAll(spans));
    this.chain = link;
    return link;
  }

  private async exportAll(spans: ReadableSpan[]): Promise<boolean> {
    let ok = true;
    for (let start = 0; start < spans.length; start += this.options.maxBatchSize) {
      const batch = spans.slice(start, start + this.options.maxBatchSize);
      ok = (await this.exportBatch(batch)) && ok;
    }
    return ok;
  }

  private exportBatch(batch: ReadableSpan[]): Promise<boolean> {
    const attempt = new Promise<{ ok: boolean; reason: string }>((resolve) => {
      try {
        // Exports run outside the application's context, with instrumentation
        // suppressed: an instrumented `http` must not trace our own requests.
        contextApi.with(suppressTracing(ROOT_CONTEXT), () => {
          this.exporter.export(batch, (result) => {
            const reason = result.error ? `${result.error.name}: ${result.error.message}` : "";
            resolve({ ok: result.code === ExportResultCode.SUCCESS, reason });
          });
        });
      } catch (error) {
        // An exporter must not throw, but never trust that.
        resolve({ ok: false, reason: String(error) });
      }
    });
    // The exporter has its own timeout; this one only guards against a
    // callback that never comes, so that flush always ends.
    const guarded = within(
      attempt,
      this.options.exportTimeoutMillis + 1000,
      { ok: false, reason: `no answer within ${this.options.exportTimeoutMillis} ms` },
      false,
    );
    return guarded.then(({ ok, reason }) => this.record(batch.length, ok, reason));
  }

  private record(count: number, ok: boolean, reason: string): boolean {
    this.pending -= count;
    if (this.stopped) return ok; // `stop` counted these spans already
    if (ok) {
      this.exported += count;
      if (this.failing) {
        this.failing = false;
        this.options.warn(`Lamina: exporting to ${this.options.endpoint} works again.`);
      }
      return true;
    }
    this.droppedExportFailed += count;
    if (!this.failing) {
      this.failing = true;
      this.options.warn(
        `Lamina: could not export ${count} spans to ${this.options.endpoint} ` +
          `(${reason || "no reason given"}); they are dropped. The application is not ` +
          "affected. Further failures are counted, not logged, until an export succeeds.",
      );
    }
    return false;
  }

  /**
   * Export every span ended before this call, at most `timeoutMillis`. True
   * when they were all delivered in time. Its timer keeps the process alive
   * while it waits unless `keepAlive` is false.
   */
  flush(timeoutMillis: number, keepAlive = true): Promise<boolean> {
    this.dirty = false;
    const before = this.chain; // a batch already on its way holds spans ended before now
    const mine = this.drainSoon();
    const both = Promise.all([before, mine]).then(([a, b]) => a && b);
    return within(both, timeoutMillis, false, keepAlive);
  }

  /** Spans ended and not yet delivered: queued, or on their way. */
  get undelivered(): number {
    return this.queue.length + this.pending;
  }

  /** The once-only summary of what was lost, when the process exits without `shutdown`. */
  reportAtExit(): void {
    const lost = this.droppedQueueFull + this.droppedExportFailed + this.undelivered;
    if (lost > 0) {
      this.options.warn(
        `Lamina: ${lost} spans were not delivered to ${this.options.endpoint} before the ` +
          `process exited (the export failed or did not finish in time); ${this.exported} were exported.`,
      );
    }
  }

  forceFlush(): Promise<void> {
    return this.flush(this.options.exportTimeoutMillis).then(() => undefined);
  }

  /** Export what is queued within `timeoutMillis`, then stop for good. */
  async stop(timeoutMillis: number): Promise<void> {
    if (this.stopped) return;
    const delivered = await this.flush(timeoutMillis);
    this.stopped = true;
    // What is still queued or on its way is lost: count it now, abandon it.
    const failed = this.droppedExportFailed + this.queue.length + this.pending;
    this.queue = [];
    try {
      await within(this.exporter.shutdown(), 1000, undefined, false);
    } catch {
      // nothing to do: the exporter is gone either way
    }
    const full = this.droppedQueueFull;
    if (full > 0 || failed > 0) {
      this.options.warn(
        `Lamina: ${full + failed} spans were not delivered to ${this.options.endpoint} ` +
          `(${full} because the queue was full, ${failed} because the export failed` +
          `${delivered ? "" : " or did not finish in time"}); ${this.exported} were exported.`,
      );
    }
  }

  shutdown(): Promise<void> {
    return this.stop(this.options.exportTimeoutMillis);
  }
}
