/**
 * `evaluate`: run an application over test cases, score what it answers, and
 * keep the run on the server as an experiment: the Python SDK's
 * `lamina.evaluate` (`lamina/sdk/evaluate.py`), with the same routes, the same
 * items sent and the same traces, so a run from either shows the same way on
 * the Experiments page.
 *
 * Each test case's executor call is a trace of its own (a root span of type
 * EXECUTOR holding the input and output, with whatever the executor traces
 * inside it) in the experiment's own session, `experiment-<id>`. The
 * evaluators run after it, one after the other, each a child span of type
 * EVALUATOR; what they return becomes the item's scores, which the server also
 * keeps as scores of source `experiment` on that trace. A progress bar goes to
 * standard error and a summary table, with the link to the experiment's page,
 * to standard output.
 *
 * An executor or evaluator that throws does not stop the run: the item keeps
 * the error and the result's `failed` is true. For CI (what `lamina eval` does
 * for Python files), such a run, or one whose average of a score is under its
 * `failUnder` bar, says why on standard error and sets `process.exitCode` to 1.
 */

import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { randomUUID } from "node:crypto";

import { ExperimentClient } from "./experiment-api.js";
import { Laminar } from "./laminar.js";
import { describe, observe, recordError } from "./observe.js";
import { Progress, summary } from "./progress.js";
import { state } from "./runtime.js";
import { toJson } from "./serialize.js";

/**
 * An input, expected output or output sent with the results, in characters: the
 * server takes at most 1 MiB of JSON each; the trace holds it too.
 */
export const MAX_VALUE_CHARS = 200_000;
/** As the server names an experiment's session. */
export const SESSION_PREFIX = "experiment-";
export const EXIT_FAILED = 1;

/** A test case: a dataset's item as the API gives it, or one of yours. */
export interface EvaluationItem<I = unknown> {
  input: I;
  /** What the application should answer (`expectedOutput` is taken too). */
  expected_output?: unknown;
  expectedOutput?: unknown;
  metadata?: Record<string, unknown> | null;
  /** A dataset item's id (set on a dataset's items); matches runs item by item. */
  item_id?: string | null;
  [field: string]: unknown;
}

/** A score, a boolean (1 or 0), `null` (no score), or several named ones. */
export type EvaluatorResult = number | boolean | null | undefined | Record<string, number | boolean | null>;

export type Executor<I, O> = (input: I) => O | Promise<O>;

export type Evaluator<I, O> = (
  output: O,
  expectedOutput: unknown,
  item: EvaluationItem<I>,
) => EvaluatorResult | Promise<EvaluatorResult>;

export interface EvaluateOptions<I, O> {
  /** A dataset's name on the server, or the test cases themselves. */
  data: string | EvaluationItem<I>[];
  /** The application: sync or async, called with each item's input. */
  executor: Executor<I, O>;
  /** `{ name: (output, expectedOutput, item) => score }`, sync or async. */
  evaluators: Record<string, Evaluator<I, O>>;
  /** The run's name; default the dataset's (or "run") and the time. */
  name?: string;
  /** Runs of a group are charted and compared over time; default the dataset's name. */
  group?: string;
  /** Items run at once (default 4). */
  concurrency?: number;
  /** `{ score: minimum }`: a run whose average of `score` is under it (or has none) fails. */
  failUnder?: Record<string, number>;
}

export interface ItemResult {
  index: number;
  input: unknown;
  expectedOutput: unknown;
  output: unknown;
  scores: Record<string, number | null>;
  /** What the executor or the first failing evaluator threw, or `null`. */
  error: string | null;
  traceId: string | null;
  durationMs: number;
  itemId: string | null;
}

export interface EvaluationResult {
  experimentId: string;
  name: string;
  group: string;
  /** The run's page. */
  url: string;
  items: ItemResult[];
  /** Each score's average over the items that have a number for it. */
  averages: Record<string, number>;
  /** The items that hold an error. */
  errors: ItemResult[];
  /** Whether an executor or an evaluator threw. */
  failed: boolean;
  /** Why the run failed for CI (errors, `failUnder` bars not met): said on stderr, exit code 1. */
  problems: string[];
}

/**
 * Run `executor` over `data`, score each output with `evaluators`, and keep
 * the run on the server; resolves to what was computed. Initialises the SDK
 * from the environment when `Laminar.initialize` has not run. Rejects with
 * `ExperimentError` when the server cannot be reached or refuses.
 */
export async function evaluate<I = unknown, O = unknown>(options: EvaluateOptions<I, O>): Promise<EvaluationResult> {
  const { data, executor, evaluators, concurrency = 4, failUnder = {} } = checked(options);
  if (!Laminar.isInitialized()) Laminar.initialize();
  const settings = state().runtime?.settings;
  if (settings === undefined) throw new Error("Laminar.initialize() did not set the SDK up");
  const client = new ExperimentClient(settings.baseUrl, settings.projectApiKey);
  const dataset = typeof data === "string" ? data : null;
  const items = (dataset !== null ? await client.datasetItems(dataset) : data) as EvaluationItem<I>[];
  items.forEach((item, n) => {
    if (item === null || typeof item !== "object" || Array.isArray(item) || !("input" in item)) {
      throw new TypeError(`item ${n} must be an object with an "input"`);
    }
  });
  const experimentId = randomUUID().replaceAll("-", "");
  const made = await client.create({
    experiment_id: experimentId,
    name: options.name || `${dataset ?? "run"} ${now()}`,
    group: options.group || dataset || null,
    dataset,
  });
  const results = await runAll(items, executor, evaluators, SESSION_PREFIX + experimentId, concurrency);
  await Laminar.flush(); // the traces before the scores that name them
  await client.addItems(experimentId, results.map(sent));
  const result = resultOf(experimentId, made, client.baseUrl, results, failUnder);
  process.stdout.write(`${summary(result.name, result.averages, results.length, result.errors.length, result.url)}\n`);
  if (result.problems.length > 0) {
    for (const problem of result.problems) process.stderr.write(`lamina-js: ${problem}\n`);
    if (!process.exitCode) process.exitCode = EXIT_FAILED;
  }
  return result;
}

function checked<I, O>(options: EvaluateOptions<I, O>): EvaluateOptions<I, O> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("evaluate({ data, executor, evaluators }): give it an object");
  }
  const { data, executor, evaluators, concurrency } = options;
  if (typeof data !== "string" && !Array.isArray(data)) {
    throw new TypeError("evaluate: data must be a dataset's name or an array of items");
  }
  if (typeof executor !== "function") {
    throw new TypeError("evaluate: executor must be a function (sync or async) taking the input");
  }
  if (evaluators === null || typeof evaluators !== "object") {
    throw new TypeError("evaluate: evaluators must be an object of { name: function }");
  }
  for (const [key, evaluator] of Object.entries(evaluators)) {
    if (typeof evaluator !== "function") throw new TypeError(`evaluate: evaluator ${JSON.stringify(key)} must be a function`);
  }
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new RangeError("evaluate: concurrency must be a whole number, 1 or more");
  }
  for (const [score, minimum] of Object.entries(options.failUnder ?? {})) {
    if (typeof minimum !== "number" || !Number.isFinite(minimum)) {
      throw new TypeError(`evaluate: failUnder.${score} must be a number`);
    }
  }
  return options;
}

function now(): string {
  const at = new Date();
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ` +
    `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`
  );
}

async function runAll<I, O>(
  items: EvaluationItem<I>[],
  executor: Executor<I, O>,
  evaluators: Record<string, Evaluator<I, O>>,
  sessionId: string,
  concurrency: number,
): Promise<ItemResult[]> {
  const progress = new Progress(items.length, process.stderr);
  const results: ItemResult[] = new Array<ItemResult>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await runOne(index, items[index] as EvaluationItem<I>, executor, evaluators, sessionId);
      progress.advance();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  } finally {
    progress.close();
  }
  return results;
}

function expectedOf(item: EvaluationItem): unknown {
  return item.expected_output !== undefined ? item.expected_output : item.expectedOutput;
}

async function runOne<I, O>(
  index: number,
  item: EvaluationItem<I>,
  executor: Executor<I, O>,
  evaluators: Record<string, Evaluator<I, O>>,
  sessionId: string,
): Promise<ItemResult> {
  const given = item.input;
  const expected = expectedOf(item);
  const scores: Record<string, number | null> = {};
  let output: O | undefined;
  let error: string | null = null;
  let traceId: string | null = null;
  let durationMs = 0;
  const call = async () => {
    traceId = Laminar.getTraceId() ?? null;
    const started = performance.now();
    try {
      output = await executor(given);
    } catch (thrown) {
      error = `the executor threw ${describe(thrown)}`;
      const span = trace.getActiveSpan();
      if (span !== undefined) recordError(span, thrown);
    }
    durationMs = performance.now() - started;
    error ??= await evaluateAll(evaluators, output as O, expected, item, scores);
    return output; // the EXECUTOR span's output
  };
  const name = executor.name || "executor";
  // Each call a trace of its own, whatever context evaluate was called in.
  await context.with(ROOT_CONTEXT, () =>
    Laminar.withSession({ sessionId }, () => observe({ name, spanType: "EXECUTOR", input: given }, call)),
  );
  const itemId = typeof item.item_id === "string" ? item.item_id : null;
  return { index, input: given, expectedOutput: expected, output, scores, error, traceId, durationMs, itemId };
}

/** Add the evaluators' scores, in their order; the first thing one threw (or returned wrongly), if any. */
async function evaluateAll<I, O>(
  evaluators: Record<string, Evaluator<I, O>>,
  output: O,
  expected: unknown,
  item: EvaluationItem<I>,
  scores: Record<string, number | null>,
): Promise<string | null> {
  let first: string | null = null;
  for (const [key, evaluator] of Object.entries(evaluators)) {
    let problem: string | null = null;
    try {
      const answer = await observe(
        { name: key, spanType: "EVALUATOR", input: { output } },
        async () => evaluator(output, expected, item),
      );
      problem = scored(key, answer, scores);
    } catch (thrown) {
      problem = `the evaluator ${JSON.stringify(key)} threw ${describe(thrown)}`;
    }
    first ??= problem;
  }
  return first;
}

/** Add the evaluator's answer as scores; what is wrong with it, if anything. */
function scored(key: string, answer: EvaluatorResult, scores: Record<string, number | null>): string | null {
  const named = answer !== null && typeof answer === "object" && !Array.isArray(answer) ? answer : { [key]: answer };
  for (const [name, value] of Object.entries(named)) {
    if (value === null || value === undefined) {
      scores[name] = null;
    } else if (typeof value === "boolean") {
      scores[name] = value ? 1 : 0;
    } else if (typeof value === "number" && Number.isFinite(value)) {
      scores[name] = value;
    } else {
      const kind = typeof value === "number" ? String(value) : Array.isArray(value) ? "an array" : typeof value;
      return (
        `the evaluator ${JSON.stringify(key)} returned ${kind} for ${JSON.stringify(name)}: an evaluator ` +
        "returns a finite number, a boolean or an object of numbers"
      );
    }
  }
  return null;
}

function value(given: unknown): unknown {
  return given === undefined ? null : JSON.parse(toJson(given, MAX_VALUE_CHARS));
}

function sent(item: ItemResult): Record<string, unknown> {
  return {
    index: item.index,
    item_id: item.itemId,
    input: value(item.input),
    expected_output: value(item.expectedOutput),
    output: value(item.output),
    error: item.error,
    trace_id: item.traceId,
    duration_ms: item.durationMs,
    scores: item.scores,
  };
}

function averagesOf(items: ItemResult[]): Record<string, number> {
  const values = new Map<string, number[]>();
  for (const item of items) {
    for (const [name, score] of Object.entries(item.scores)) {
      if (score === null) continue;
      const all = values.get(name);
      if (all === undefined) values.set(name, [score]);
      else all.push(score);
    }
  }
  const names = [...values.keys()].sort();
  return Object.fromEntries(
    names.map((name) => {
      const all = values.get(name) ?? [];
      return [name, all.reduce((sum, x) => sum + x, 0) / all.length];
    }),
  );
}

function resultOf(
  experimentId: string,
  made: Record<string, unknown>,
  baseUrl: string,
  items: ItemResult[],
  failUnder: Record<string, number>,
): EvaluationResult {
  const name = String(made.name);
  const averages = averagesOf(items);
  const errors = items.filter((item) => item.error !== null);
  const problems: string[] = [];
  const firstError = errors[0];
  if (firstError !== undefined) {
    problems.push(
      `experiment ${JSON.stringify(name)}: ${errors.length} of ${items.length} items failed; ` +
        `item ${firstError.index}: ${firstError.error}`,
    );
  }
  for (const [score, minimum] of Object.entries(failUnder)) {
    const average = averages[score];
    if (average === undefined) {
      problems.push(`failUnder ${score}: experiment ${JSON.stringify(name)} has no score named ${JSON.stringify(score)}`);
    } else if (average < minimum) {
      problems.push(
        `experiment ${JSON.stringify(name)}: the average of ${JSON.stringify(score)} is ` +
          `${Number(average.toPrecision(4))}, under the ${minimum} that failUnder asks`,
      );
    }
  }
  return {
    experimentId,
    name,
    group: String(made.group),
    url: baseUrl + String(made.url),
    items,
    averages,
    errors,
    failed: errors.length > 0,
    problems,
  };
}
