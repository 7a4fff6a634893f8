// Bundles the page (app/index.jsx and the PatternFly styles it imports) into
// OUTDIR/index.js and OUTDIR/index.css, and gzips both (index.js.gz,
// index.css.gz: what is installed; cockpit-bridge serves FILE from FILE.gz,
// as Cockpit's own packages are shipped).  meson runs it: node build.mjs OUTDIR.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] || path.join(here, "dist"));

await esbuild.build({
    entryPoints: { index: path.join(here, "app", "index.jsx") },
    bundle: true,
    minify: true,
    outdir,
    absWorkingDir: here,
    target: ["es2020"],
    jsx: "automatic",
    // cockpit.js is loaded by index.html (../base1/cockpit.js) as the global "cockpit".
    define: { "process.env.NODE_ENV": '"production"' },
    // PatternFly's fonts and images travel inside the CSS: Cockpit allows data: fonts and images,
    // and meson then installs exactly two files.
    loader: { ".woff2": "dataurl", ".svg": "dataurl", ".png": "dataurl", ".jpg": "dataurl" },
    logLevel: "warning",
});

for (const name of ["index.js", "index.css"]) {
    const data = fs.readFileSync(path.join(outdir, name));
    fs.writeFileSync(path.join(outdir, name + ".gz"), zlib.gzipSync(data, { level: 9 }));
}
