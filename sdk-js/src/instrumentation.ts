/**
 * Tracing the LLM client modules the application passes in `instrumentModules`
 * (`{ openAI: OpenAI, anthropic: Anthropic }`), through the OpenTelemetry
 * instrumentation packages made for them: `@traceloop/instrumentation-openai`
 * and `@traceloop/instrumentation-anthropic` (OpenLLMetry's).
 *
 * The module objects are patched directly (`manuallyInstrument`), which works
 * for ES modules and CommonJS alike, and no `require` hook is installed. Each
 * module object is patched once per process, never unpatched: patching again
 * would trace every call twice. Instead its instrumentation is given a
 * *routing* tracer provider of its own, whose tracers hand each span to the
 * provider of the current `Laminar.initialize` when the module is enabled
 * there, and to a no-op tracer otherwise (after `shutdown`, or when a later
 * `initialize` leaves the module out), as the Python SDK routes its
 * instrumentations. The routing tracers also time spans with the SDK's
 * sub-millisecond clock.
 */

import type { Context, Span, SpanOptions, Tracer, TracerOptions, TracerProvider } from "@opentelemetry/api";
import { ProxyTracerProvider, context, trace } from "@opentelemetry/api";

import { AnthropicInstrumentation } from "@traceloop/instrumentation-anthropic";
import { OpenAIInstrumentation } from "@traceloop/instrumentation-openai";

import { endsPrecisely, preciseNow } from "./clock.js";
import { type InstrumentModules, LaminaConfigError } from "./config.js";

interface Instrumentation {
  setTracerProvider(provider: TracerProvider): void;
  manuallyInstrument(module: unknown): void;
}

type Name = keyof InstrumentModules;

const FACTORIES: Record<Name, () => Instrumentation> = {
  // `enabled: false`: no require hook; the module the application passed is
  // patched directly instead.
  openAI: () => new OpenAIInstrumentation({ enabled: false }),
  anthropic: () => new AnthropicInstrumentation({ enabled: false }),
};

type AnyRecord = Record<string, unknown>;

function isClassLike(value: unknown): value is AnyRecord {
  return typeof value === "function" || (typeof value === "object" && value !== null);
}

function hasCreate(value: unknown): boolean {
  return typeof value === "function" && typeof (value as { prototype?: AnyRecord }).prototype?.create === "function";
}

/** Stands in for a client class the module version lacks, so the instrumentation has something to patch (silently). */
function absent(): unknown {
  return class Absent {
    create(): never {
      throw new Error("not available in this version of the client");
    }
  };
}

/**
 * The client class inside what the application passed (the default export,
 * or a namespace from `import * as`), and the object to hand the
 * instrumentation's `manuallyInstrument`, which expects the layout of the
 * module versions it was written for.
 */
const TARGETS: Record<Name, (module: AnyRecord) => { key: unknown; patch: unknown } | undefined> = {
  openAI: (module) => {
    for (const candidate of [module, module.default, module.OpenAI]) {
      if (isClassLike(candidate) && isClassLike(candidate.Chat) && hasCreate((candidate.Chat as AnyRecord).Completions)) {
        return { key: candidate, patch: candidate };
      }
    }
    return undefined;
  },
  anthropic: (module) => {
    const inner = isClassLike(module.Anthropic) ? module.Anthropic : undefined;
    const nested = isClassLike(module.default) ? module.default : undefined;
    for (const candidate of [module, nested, inner]) {
      if (isClassLike(candidate) && hasCreate(candidate.Messages)) {
        const beta = isClassLike(candidate.Beta) ? candidate.Beta : undefined;
        // @anthropic-ai/sdk 0.x has Completions and Beta.Messages too; 1.x neither.
        const layout = {
          Anthropic: {
            Completions: hasCreate(candidate.Completions) ? candidate.Completions : absent(),
            Messages: candidate.Messages,
            Beta: { Messages: beta && hasCreate(beta.Messages) ? beta.Messages : absent() },
          },
        };
        return { key: candidate, patch: layout };
      }
    }
    return undefined;
  },
};

const EXAMPLES: Record<Name, string> = {
  openAI: 'import OpenAI from "openai"; ... instrumentModules: { openAI: OpenAI }',
  anthropic: 'import Anthropic from "@anthropic-ai/sdk"; ... instrumentModules: { anthropic: Anthropic }',
};

/** A tracer that makes no spans: a ProxyTracer with no delegate. */
const NOOP_TRACER: Tracer = new ProxyTracerProvider().getTracer("lamina-js.noop");

/** Where one patched module's spans go now. */
interface Route {
  provider: TracerProvider | undefined;
}

type TracerArgs = [name: string, version?: string, options?: TracerOptions];

class RoutingTracer implements Tracer {
  private cache: [TracerProvider, Tracer] | undefined;

  constructor(
    private readonly route: Route,
    private readonly args: TracerArgs,
  ) {}

  private target(): Tracer {
    const provider = this.route.provider;
    if (provider === undefined) return NOOP_TRACER;
    if (this.cache === undefined || this.cache[0] !== provider) {
      this.cache = [provider, provider.getTracer(...this.args)];
    }
    return this.cache[1];
  }

  startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
    const timed = options.startTime === undefined ? { ...options, startTime: preciseNow() } : options;
    const span = this.target().startSpan(name, timed, ctx);
    return options.startTime === undefined ? endsPrecisely(span) : span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const parent = (rest.length >= 3 ? rest[1] : undefined) as Context | undefined;
    const base = parent ?? context.active();
    const span = this.startSpan(name, options, base);
    return context.with(trace.setSpan(base, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

class RoutingTracerProvider implements TracerProvider {
  constructor(private readonly route: Route) {}

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    return new RoutingTracer(this.route, [name, version, options]);
  }
}

interface Patched {
  name: Name;
  route: Route;
}

const STATE_KEY = Symbol.for("lamina-js.instrumented");
type Registry = Map<unknown, Patched>;

/** The modules patched in this process, shared by the ESM and CommonJS builds. */
function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let found = holder[STATE_KEY];
  if (found === undefined) {
    found = new Map();
    holder[STATE_KEY] = found;
  }
  return found;
}

function resolveTarget(name: Name, module: unknown): { key: unknown; patch: unknown } {
  const found = isClassLike(module) ? TARGETS[name](module) : undefined;
  if (found === undefined) {
    const library = name === "openAI" ? "openai" : "@anthropic-ai/sdk";
    throw new LaminaConfigError(
      `instrumentModules.${name} is not the ${library} module (or it is a version whose client ` +
        `classes are not where its instrumentation expects them): ${EXAMPLES[name]}`,
    );
  }
  return found;
}

/**
 * Send the spans of `modules` to `provider` (patching each module the first
 * time), and those of every other module patched before to nowhere. Returns
 * the names routed to `provider`. Throws {@link LaminaConfigError} for a
 * value that is not the module named.
 */
export function activate(modules: InstrumentModules, provider: TracerProvider): Name[] {
  const wanted = new Map<unknown, { name: Name; patch: unknown }>();
  for (const name of Object.keys(modules) as Name[]) {
    const module = modules[name];
    if (module === undefined || module === null) continue;
    const { key, patch } = resolveTarget(name, module);
    wanted.set(key, { name, patch });
  }
  const patched = registry();
  for (const [key, { name, patch }] of wanted) {
    if (!patched.has(key)) {
      const route: Route = { provider: undefined };
      const instrumentation = FACTORIES[name]();
      instrumentation.setTracerProvider(new RoutingTracerProvider(route));
      instrumentation.manuallyInstrument(patch);
      patched.set(key, { name, route });
    }
  }
  for (const [key, entry] of patched) {
    entry.route.provider = wanted.has(key) ? provider : undefined;
  }
  return [...new Set([...wanted.values()].map((w) => w.name))].sort();
}

/** Stop sending spans to `provider` (where it is still the one routed to). */
export function deactivate(provider: TracerProvider): void {
  for (const entry of registry().values()) {
    if (entry.route.provider === provider) entry.route.provider = undefined;
  }
}
