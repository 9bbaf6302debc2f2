// An application and its evaluators, run by `evaluate` in a process of its own
// (evaluate.test.mjs), as a user's CI script would. Given by environment:
// EVAL_DATA (a dataset's name; without it, the items inline), EVAL_RUN (`sync`:
// a sync executor; `async`: an async one; `raises`: one that throws on question
// 2), EVAL_GROUP, EVAL_FAIL_UNDER (JSON for failUnder), EVAL_OUT (where to write what it
// computed). The SDK's key and URL come from LAMINA_* variables.
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

import { evaluate, observe } from "lamina-js";

const INLINE = [
  { input: "question 1", expectedOutput: "answer 1" },
  { input: { text: "question 2" }, expectedOutput: "answer 2" },
  { input: "question 10", expectedOutput: "answer ten" },
];

const question = (given) => (typeof given === "string" ? given : given.text);
const lookup = (text) => observe({ name: "lookup" }, (q) => `answer ${q.split(" ").at(-1)}`, text);

const executors = {
  sync: function answerSync(given) {
    return lookup(question(given));
  },
  async: async function answerAsync(given) {
    await sleep(1);
    return lookup(question(given));
  },
  raises: function answerOrThrow(given) {
    if (question(given) === "question 2") throw new Error("no answer for question 2");
    return lookup(question(given));
  },
};

const run = process.env.EVAL_RUN ?? "sync";
const result = await evaluate({
  data: process.env.EVAL_DATA ?? INLINE,
  executor: executors[run],
  evaluators: {
    exact: (output, expected) => output === expected,
    style: async (output) => {
      await sleep(1);
      return { length: output.length, short: output.length < 9 };
    },
  },
  name: `${run} run`,
  group: process.env.EVAL_GROUP, // by default the dataset's name
  concurrency: 2,
  failUnder: process.env.EVAL_FAIL_UNDER ? JSON.parse(process.env.EVAL_FAIL_UNDER) : undefined,
});
writeFileSync(process.env.EVAL_OUT, JSON.stringify(result));
