/**
 * The SDK's running state: its own tracer provider, the export pipeline and
 * the instrumentations, built by `Laminar.initialize` and torn down by
 * `shutdown`.
 *
 * The provider is never made the global one: an application's own
 * OpenTelemetry set-up keeps working beside Lamina, and Lamina needs none. The
 * global *context manager* is another matter: without one, OpenTelemetry JS
 * carries no context at all, so the SDK registers the AsyncLocalStorage one
 * unless the application has registered its own already.
 */

import type { Tracer } from "@opentelemetry/api";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";

import type { Settings } from "./config.js";
import { OtlpHttpExporter } from "./exporter.js";
import { activate, deactivate } from "./instrumentation.js";
import { AssociationProcessor, ExportProcessor, type Warn, within } from "./processor.js";
import { ScoreSender, httpPost } from "./scores.js";
import { VERSION } from "./version.js";

/** How long the exit hook waits for queued spans; much less when the server is known to be down. */
export const EXIT_FLUSH_MILLIS = 5_000;
export const EXIT_FLUSH_MILLIS_WHEN_FAILING = 500;

export class Runtime {
  readonly settings: Settings;
  readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;
  readonly export: ExportProcessor;
  readonly exporter: OtlpHttpExporter;
  readonly instrumented: string[];
  readonly scores: ScoreSender;

  constructor(settings: Settings, warn: Warn) {
    this.settings = settings;
    const resource = defaultResource().merge(
      resourceFromAttributes({
        "service.name": settings.serviceName,
        "lamina.sdk.name": "lamina-js",
        "lamina.sdk.version": VERSION,
      }),
    );
    this.exporter = new OtlpHttpExporter(
      settings.tracesEndpoint,
      settings.projectApiKey,
      settings.exportTimeoutMillis,
    );
    this.export = new ExportProcessor(this.exporter, {
      maxQueueSize: settings.maxQueueSize,
      exportTimeoutMillis: settings.exportTimeoutMillis,
      endpoint: settings.tracesEndpoint,
      warn,
    });
    this.provider = new BasicTracerProvider({
      resource,
      spanProcessors: [new AssociationProcessor(), this.export],
    });
    this.tracer = this.provider.getTracer("lamina-js", VERSION);
    const { post, close } = httpPost(settings.baseUrl, settings.projectApiKey, settings.exportTimeoutMillis);
    this.scores = new ScoreSender(post, settings.baseUrl, warn, close);
    try {
      this.instrumented = activate(settings.instrumentModules, this.provider);
    } catch (error) {
      void this.export.stop(0);
      void this.scores.stop(0);
      throw error;
    }
  }

  /** Whether the server was unreachable at the last attempt (spans or scores). */
  get failing(): boolean {
    return this.export.failing || this.exporter.lastAttemptFailed || this.scores.failing;
  }

  async flush(timeoutMillis: number): Promise<boolean> {
    const [spans, scores] = await Promise.all([
      this.export.flush(timeoutMillis),
      this.scores.flush(timeoutMillis),
    ]);
    return spans && scores;
  }

  async shutdown(timeoutMillis: number): Promise<void> {
    deactivate(this.provider);
    await Promise.all([this.export.stop(timeoutMillis), this.scores.stop(timeoutMillis)]);
    await within(this.provider.shutdown(), 1000, undefined);
  }
}

interface GlobalState {
  runtime: Runtime | undefined;
  contextManager: boolean;
  exitHook: boolean;
}

const STATE_KEY = Symbol.for("lamina-js.state");

/** The process's SDK state, shared by the ESM and CommonJS builds of the package. */
export function state(): GlobalState {
  const holder = globalThis as unknown as Record<symbol, GlobalState | undefined>;
  let found = holder[STATE_KEY];
  if (found === undefined) {
    found = { runtime: undefined, contextManager: false, exitHook: false };
    holder[STATE_KEY] = found;
  }
  return found;
}

/** Make sure the context follows async code: register AsyncLocalStorage unless there is a manager. */
export function ensureContextManager(): void {
  const current = state();
  if (current.contextManager) return;
  current.contextManager = true;
  const manager = new AsyncLocalStorageContextManager();
  manager.enable();
  if (!context.setGlobalContextManager(manager)) {
    manager.disable(); // the application registered one already: use it
  }
}

/**
 * Flush what is queued when the event loop runs dry (`beforeExit`), so a
 * script that never calls `Laminar.shutdown()` still delivers its spans and
 * scores: it
 * waits up to 5 s, or 0.5 s once the server is known to be unreachable (as
 * the Python SDK's exit hook). Not run on `process.exit()` or a signal: call
 * `await Laminar.shutdown()` first.
 */
export function ensureExitHook(): void {
  const current = state();
  if (current.exitHook) return;
  current.exitHook = true;
  process.on("beforeExit", () => {
    const runtime = state().runtime;
    if (runtime === undefined || (!runtime.export.dirty && !runtime.scores.dirty)) return;
    const failing = runtime.failing;
    const deadline = Date.now() + (failing ? EXIT_FLUSH_MILLIS_WHEN_FAILING : EXIT_FLUSH_MILLIS);
    let reported = false;
    const giveUp = () => {
      runtime.exporter.onAttemptFailed = undefined;
      runtime.scores.onAttemptFailed = undefined;
      if (!reported) {
        runtime.export.reportAtExit();
        runtime.scores.reportAtExit();
      }
      reported = true;
    };
    // The one thing that keeps the process alive while the flush runs.
    let hold = setTimeout(giveUp, deadline - Date.now());
    const shorten = () => {
      runtime.exporter.onAttemptFailed = undefined;
      runtime.scores.onAttemptFailed = undefined;
      clearTimeout(hold);
      hold = setTimeout(giveUp, Math.min(EXIT_FLUSH_MILLIS_WHEN_FAILING, Math.max(0, deadline - Date.now())));
    };
    runtime.exporter.onAttemptFailed = shorten;
    runtime.scores.onAttemptFailed = shorten;
    const spansAndScores = Promise.all([
      runtime.export.flush(EXIT_FLUSH_MILLIS, false),
      runtime.scores.flush(EXIT_FLUSH_MILLIS, false),
    ]).then(([spans, scores]) => spans && scores);
    void spansAndScores.then((delivered) => {
      clearTimeout(hold);
      if (delivered) {
        runtime.exporter.onAttemptFailed = undefined;
        runtime.scores.onAttemptFailed = undefined;
      } else {
        giveUp();
      }
    });
  });
}
