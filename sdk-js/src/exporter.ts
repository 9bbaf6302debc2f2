/**
 * The OTLP/HTTP exporter: spans serialised by OpenTelemetry's own protobuf
 * serialiser (`@opentelemetry/otlp-transformer`), gzipped, POSTed to
 * `<baseUrl>/v1/traces` with `Authorization: Bearer <project API key>`.
 *
 * Why not `@opentelemetry/exporter-trace-otlp-proto`: its retries run on
 * timers that keep the process alive for the whole export timeout when the
 * server is down, and its `shutdown()` waits for them; a script whose server
 * is unreachable would hang at exit. Here:
 *
 * - a request that fails for a transient reason (connection refused or reset,
 *   429, 502, 503, 504) is retried with backoff (or the server's
 *   `Retry-After`) until the export timeout, as the other OTLP exporters do;
 * - nothing the exporter waits on keeps the process alive (the SDK's `flush`
 *   and exit hook decide how long to wait), and `shutdown()` abandons what is
 *   in flight at once;
 * - it never throws: every outcome goes to the callback.
 */

import * as http from "node:http";
import * as https from "node:https";
import { promisify } from "node:util";
import { gzip } from "node:zlib";

import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";

import { VERSION } from "./version.js";

const gzipAsync = promisify(gzip);

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const RETRYABLE_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN"]);
const FIRST_BACKOFF_MILLIS = 250;
const MAX_BACKOFF_MILLIS = 2_000;
const MAX_ERROR_BODY_CHARS = 300;

interface Outcome {
  ok: boolean;
  retryable: boolean;
  retryAfterMillis?: number | undefined;
  error?: Error;
}

function retryAfter(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export class OtlpHttpExporter implements SpanExporter {
  /** Whether the last request failed (the exit hook then waits less). */
  lastAttemptFailed = false;
  /** Called when a request fails (the exit hook stops waiting long for a server that is not there). */
  onAttemptFailed: (() => void) | undefined;

  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMillis: number;
  private readonly agent: http.Agent;
  private readonly requests = new Set<http.ClientRequest>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  constructor(endpoint: string, apiKey: string, timeoutMillis: number) {
    this.url = new URL(endpoint);
    this.timeoutMillis = timeoutMillis;
    this.headers = {
      authorization: `Bearer ${apiKey}`,
      "content-type": "application/x-protobuf",
      "content-encoding": "gzip",
      "user-agent": `lamina-js/${VERSION}`,
    };
    const Agent = this.url.protocol === "https:" ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 2 });
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.send(spans).then(resultCallback, (error: unknown) =>
      resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }

  private async send(spans: ReadableSpan[]): Promise<ExportResult> {
    if (this.stopped) return { code: ExportResultCode.FAILED, error: new Error("the exporter is shut down") };
    const serialized = ProtobufTraceSerializer.serializeRequest(spans);
    if (serialized === undefined) return { code: ExportResultCode.FAILED, error: new Error("spans could not be serialised") };
    const body = await gzipAsync(serialized);
    const deadline = Date.now() + this.timeoutMillis;
    let backoff = FIRST_BACKOFF_MILLIS;
    for (;;) {
      const outcome = await this.attempt(body, deadline - Date.now());
      this.lastAttemptFailed = !outcome.ok;
      if (outcome.ok) return { code: ExportResultCode.SUCCESS };
      this.onAttemptFailed?.();
      const wait = outcome.retryAfterMillis ?? backoff * (0.8 + Math.random() * 0.4);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
      if (!outcome.retryable || this.stopped || Date.now() + wait >= deadline) {
        return { code: ExportResultCode.FAILED, error: outcome.error ?? new Error("export failed") };
      }
      await this.sleep(wait);
    }
  }

  private attempt(body: Buffer, timeoutMillis: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      if (this.stopped || timeoutMillis <= 0) {
        resolve({ ok: false, retryable: false, error: new Error("the export timed out") });
        return;
      }
      const client = this.url.protocol === "https:" ? https : http;
      let request: http.ClientRequest;
      try {
        request = client.request(this.url, {
          method: "POST",
          agent: this.agent,
          headers: { ...this.headers, "content-length": String(body.length) },
        });
      } catch (error) {
        resolve({ ok: false, retryable: false, error: error as Error });
        return;
      }
      this.requests.add(request);
      const timer = setTimeout(
        () => request.destroy(new Error(`no answer within ${Math.round(timeoutMillis)} ms`)),
        timeoutMillis,
      );
      timer.unref();
      const settle = (outcome: Outcome) => {
        clearTimeout(timer);
        this.requests.delete(request);
        resolve(outcome);
      };
      // The SDK's flush and exit hook keep the process alive while they wait;
      // an export nobody waits for must not.
      request.on("socket", (socket) => socket.unref());
      request.on("error", (error: NodeJS.ErrnoException) =>
        settle({ ok: false, retryable: RETRYABLE_ERRORS.has(error.code ?? ""), error }),
      );
      request.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error) => settle({ ok: false, retryable: true, error }));
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            settle({ ok: true, retryable: false });
            return;
          }
          const text = Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY_CHARS);
          settle({
            ok: false,
            retryable: RETRYABLE_STATUS.has(status),
            retryAfterMillis: retryAfter(response.headers["retry-after"]),
            error: new Error(`HTTP ${status} ${response.statusMessage ?? ""}${text ? `: ${text}` : ""}`.trim()),
          });
        });
      });
      request.end(body);
    });
  }

  private sleep(millis: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, millis);
      timer.unref();
      this.sleepers.add(wake);
    });
  }

  /** Abandon what is in flight and stop: pending exports fail at once. */
  shutdown(): Promise<void> {
    this.stopped = true;
    for (const request of this.requests) request.destroy(new Error("the Lamina SDK was shut down"));
    for (const wake of [...this.sleepers]) wake();
    this.agent.destroy();
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
