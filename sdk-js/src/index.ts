/**
 * lamina-js: trace LLM applications into sessions on a self-hosted Lamina server.
 *
 * ```ts
 * import { Laminar, observe } from "lamina-js";
 *
 * Laminar.initialize({ projectApiKey: process.env.LAMINA_PROJECT_API_KEY, baseUrl: "http://127.0.0.1:5667" });
 * await Laminar.withSession({ sessionId: "checkout-42" }, async () => {
 *   await observe({ name: "validateCart" }, async () => { ... });
 *   await observe({ name: "processPayment" }, async () => { ... });
 * });
 * await Laminar.shutdown();
 * ```
 */

export { Laminar, type SessionOptions } from "./laminar.js";
export { observe, type ObserveOptions } from "./observe.js";
export { type ScoreOptions } from "./score-args.js";
export { LaminaConfigError, type InitializeOptions, type InstrumentModules } from "./config.js";
export { SPAN_TYPES, type SpanType } from "./attributes.js";
export {
  evaluate,
  type EvaluateOptions,
  type EvaluationItem,
  type EvaluationResult,
  type Evaluator,
  type EvaluatorResult,
  type Executor,
  type ItemResult,
} from "./evaluate.js";
export { ExperimentError } from "./experiment-api.js";
export { VERSION } from "./version.js";
