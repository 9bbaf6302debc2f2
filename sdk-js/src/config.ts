/**
 * The SDK's settings: one object, built from `Laminar.initialize`'s options and
 * the environment, checked once so that a mistake fails at start-up with a
 * message saying how to fix it. The same settings, names and defaults as the
 * Python SDK's (docs/sdk.md), in camelCase.
 *
 * | setting | option | environment | default |
 * |---|---|---|---|
 * | project API key | `projectApiKey` | `LAMINA_PROJECT_API_KEY` | required |
 * | server base URL | `baseUrl` | `LAMINA_BASE_URL` | `http://127.0.0.1:5667` |
 * | instrumented libraries | `instrumentModules` | | none |
 * | payload size limit | `maxPayloadChars` | `LAMINA_MAX_PAYLOAD_CHARS` | 65536 |
 * | span queue bound | `maxQueueSize` | `LAMINA_MAX_QUEUE_SIZE` | 8192 |
 * | export timeout | `exportTimeoutMillis` | `LAMINA_EXPORT_TIMEOUT_SECONDS` (seconds) | 10000 |
 * | service name | `serviceName` | `OTEL_SERVICE_NAME` | `lamina-app` |
 */

export const DEFAULT_BASE_URL = "http://127.0.0.1:5667";
export const DEFAULT_MAX_PAYLOAD_CHARS = 65_536;
export const DEFAULT_MAX_QUEUE_SIZE = 8_192;
export const DEFAULT_EXPORT_TIMEOUT_MILLIS = 10_000;
export const DEFAULT_SERVICE_NAME = "lamina-app";

/**
 * The LLM client modules the application imported, to instrument:
 * `{ openAI: OpenAI, anthropic: Anthropic }` (`import OpenAI from "openai"`,
 * `import Anthropic from "@anthropic-ai/sdk"`).
 */
export interface InstrumentModules {
  openAI?: unknown;
  anthropic?: unknown;
}

export interface InitializeOptions {
  /** The project API key `lamina serve` printed (or `lamina keys create`). */
  projectApiKey?: string | undefined;
  /** The Lamina server, e.g. `http://127.0.0.1:5667`; the SDK adds `/v1/traces`. */
  baseUrl?: string | undefined;
  /** LLM client modules to trace, e.g. `{ openAI: OpenAI }`. */
  instrumentModules?: InstrumentModules | undefined;
  serviceName?: string | undefined;
  /** Inputs and outputs longer than this (in characters of JSON) are cut. */
  maxPayloadChars?: number | undefined;
  /** Spans waiting for export at most; past that new spans are dropped. */
  maxQueueSize?: number | undefined;
  /** How long one export request may take. */
  exportTimeoutMillis?: number | undefined;
}

/** `Laminar.initialize` was given (or found in the environment) a setting it cannot use. */
export class LaminaConfigError extends Error {
  override name = "LaminaConfigError";
}

export interface Settings {
  readonly projectApiKey: string;
  readonly baseUrl: string;
  readonly tracesEndpoint: string;
  readonly instrumentModules: InstrumentModules;
  readonly serviceName: string;
  readonly maxPayloadChars: number;
  readonly maxQueueSize: number;
  readonly exportTimeoutMillis: number;
}

export const SUPPORTED_MODULES = ["openAI", "anthropic"] as const;

function checkBaseUrl(raw: string): string {
  const url = raw.trim();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const hint = url.includes("://") ? "" : ` (did you mean 'http://${url}'?)`;
    throw new LaminaConfigError(
      `baseUrl ${JSON.stringify(url)} is not an http:// or https:// URL${hint}: pass baseUrl to ` +
        `Laminar.initialize or set LAMINA_BASE_URL, e.g. ${DEFAULT_BASE_URL}`,
    );
  }
  if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || !parsed.host) {
    const hint = url.includes("://") ? "" : ` (did you mean 'http://${url}'?)`;
    throw new LaminaConfigError(
      `baseUrl ${JSON.stringify(url)} is not an http:// or https:// URL${hint}: pass baseUrl to ` +
        `Laminar.initialize or set LAMINA_BASE_URL, e.g. ${DEFAULT_BASE_URL}`,
    );
  }
  if (parsed.search || parsed.hash) {
    throw new LaminaConfigError(`baseUrl ${JSON.stringify(url)} must not have a query or fragment`);
  }
  let base = url.replace(/\/+$/, "");
  // A URL copied from an OTLP exporter's settings: the SDK adds /v1/traces itself.
  if (base.endsWith("/v1/traces")) base = base.slice(0, -"/v1/traces".length);
  return base;
}

function positive(
  name: string,
  envName: string,
  given: number | undefined,
  env: NodeJS.ProcessEnv,
  fallback: number,
  scale = 1,
): number {
  let value: number;
  if (given !== undefined && given !== null) {
    value = given;
  } else {
    const raw = (env[envName] ?? "").trim();
    if (raw) {
      value = Number(raw) * scale;
      if (!Number.isFinite(value)) throw new LaminaConfigError(`${envName}=${JSON.stringify(raw)} is not a number`);
    } else {
      value = fallback;
    }
  }
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new LaminaConfigError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function checkModules(modules: InstrumentModules | undefined): InstrumentModules {
  if (modules === undefined || modules === null) return {};
  if (typeof modules !== "object") {
    throw new LaminaConfigError("instrumentModules must be an object such as { openAI: OpenAI }");
  }
  const unknown = Object.keys(modules).filter(
    (key) => !(SUPPORTED_MODULES as readonly string[]).includes(key),
  );
  if (unknown.length > 0) {
    throw new LaminaConfigError(
      `instrumentModules: unknown ${unknown.map((k) => JSON.stringify(k)).join(", ")}; ` +
        `supported: ${SUPPORTED_MODULES.join(", ")}`,
    );
  }
  return { ...modules };
}

/** Options first, then the environment, then the defaults; checked. */
export function resolveSettings(options: InitializeOptions = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const key = options.projectApiKey ?? env.LAMINA_PROJECT_API_KEY;
  if (typeof key !== "string" || !key.trim()) {
    throw new LaminaConfigError(
      "no project API key: pass projectApiKey to Laminar.initialize or set " +
        "LAMINA_PROJECT_API_KEY (`lamina serve` prints the default project's key the first " +
        "time it starts on an empty data directory)",
    );
  }
  const baseUrl = checkBaseUrl(options.baseUrl || env.LAMINA_BASE_URL || DEFAULT_BASE_URL);
  return Object.freeze({
    projectApiKey: key.trim(),
    baseUrl,
    tracesEndpoint: `${baseUrl}/v1/traces`,
    instrumentModules: checkModules(options.instrumentModules),
    serviceName: options.serviceName || env.OTEL_SERVICE_NAME || DEFAULT_SERVICE_NAME,
    maxPayloadChars: Math.floor(
      positive("maxPayloadChars", "LAMINA_MAX_PAYLOAD_CHARS", options.maxPayloadChars, env, DEFAULT_MAX_PAYLOAD_CHARS),
    ),
    maxQueueSize: Math.floor(
      positive("maxQueueSize", "LAMINA_MAX_QUEUE_SIZE", options.maxQueueSize, env, DEFAULT_MAX_QUEUE_SIZE),
    ),
    exportTimeoutMillis: positive(
      "exportTimeoutMillis",
      "LAMINA_EXPORT_TIMEOUT_SECONDS",
      options.exportTimeoutMillis,
      env,
      DEFAULT_EXPORT_TIMEOUT_MILLIS,
      1000,
    ),
  });
}
