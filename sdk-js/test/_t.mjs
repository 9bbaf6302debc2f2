import { Laminar, observe } from "lamina-js";
Laminar.initialize({ projectApiKey: process.env.KEY, baseUrl: process.env.URL });
let t = performance.now();
observe({ name: "x" }, () => 1);
console.log("flush", await Laminar.flush(), (performance.now() - t).toFixed(0)); t = performance.now();
await Laminar.shutdown();
console.log("shutdown", (performance.now() - t).toFixed(0));
