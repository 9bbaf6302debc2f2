// A script that traces one call and then simply ends, without Laminar.shutdown():
// the SDK must deliver its spans before the process exits (or, with the server
// down, let it exit promptly). Prints the trace id. Run by export.test.mjs.
import { Laminar, observe } from "lamina-js";

// How long the SDK kept the process alive after its work was done.
let idleSince;
process.once("beforeExit", () => (idleSince = performance.now()));
process.once("exit", () => console.error(`exit-wait-ms: ${Math.round(performance.now() - idleSince)}`));

Laminar.initialize({ serviceName: "exiting-app" }); // key and URL from LAMINA_* variables
observe({ name: "lastWords", sessionId: process.env.SESSION_ID }, () => {
  console.log(Laminar.getTraceId());
  return "bye";
});
