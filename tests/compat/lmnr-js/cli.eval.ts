// An evaluation file for the `lmnr eval` CLI of Laminar's TypeScript SDK, unchanged:
// tests/compat/test_laminar_js.py runs `npx lmnr eval cli.eval.ts` here, which bundles
// this file with esbuild (its platform binary, @esbuild/linux-x64, comes with
// `npm ci --ignore-scripts`) and runs the evaluation it registers against Lamina.
//
// Environment: LAMINA_URL (http://127.0.0.1:PORT), LAMINA_GRPC_PORT, LAMINA_KEY, RUN.

import { evaluate } from "@lmnr-ai/lmnr";

const lamina = new URL(process.env.LAMINA_URL ?? "");

evaluate({
  data: [
    { data: "x", target: "X" },
    { data: "yz", target: "YZ!" },
  ],
  executor: (text: string): string => text.toUpperCase(),
  evaluators: { same: (output: string, target?: string): number => (output === target ? 1 : 0) },
  name: `js-cli-${process.env.RUN}`,
  groupName: `lmnr-js-cli-${process.env.RUN}`,
  config: {
    baseUrl: `${lamina.protocol}//${lamina.hostname}`,
    httpPort: Number(lamina.port),
    grpcPort: Number(process.env.LAMINA_GRPC_PORT),
    projectApiKey: process.env.LAMINA_KEY,
  },
});
