// After `tsc`: tell Node which module format each build directory holds, so
// dist/esm/*.js load as ES modules and dist/cjs/*.js as CommonJS whatever the
// package's own "type" says.
import { writeFileSync } from "node:fs";

writeFileSync(new URL("../dist/esm/package.json", import.meta.url), '{"type":"module"}\n');
writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), '{"type":"commonjs"}\n');
