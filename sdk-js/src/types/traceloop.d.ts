// The little of @traceloop/instrumentation-openai and -anthropic the SDK uses.
// tsconfig.json maps both packages here for type checking only (the emitted
// code imports the real packages): their own declarations pull in the whole
// type surface of the openai and @anthropic-ai/sdk clients, which made the
// build several times slower.
import type { TracerProvider } from "@opentelemetry/api";

interface TraceloopInstrumentationConfig {
  enabled?: boolean;
  traceContent?: boolean;
  enrichTokens?: boolean;
}

declare class TraceloopInstrumentation {
  constructor(config?: TraceloopInstrumentationConfig);
  setTracerProvider(tracerProvider: TracerProvider): void;
  manuallyInstrument(module: unknown): void;
}

export declare class OpenAIInstrumentation extends TraceloopInstrumentation {}
export declare class AnthropicInstrumentation extends TraceloopInstrumentation {}
