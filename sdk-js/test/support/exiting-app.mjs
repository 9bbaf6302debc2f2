// A script that traces one call and then simply ends, without Laminar.shutdown():
// the SDK must deliver its spans before the process exits (or, with the server
// down, let it exit promptly). Prints the trace id. Run by export.test.mjs.
import { Laminar, observe } from "lamina-js";

Laminar.initialize({ serviceName: "exiting-app" }); // key and URL from LAMINA_* variables
observe({ name: "lastWords", sessionId: process.env.SESSION_ID }, () => {
  console.log(Laminar.getTraceId());
  return "bye";
});
