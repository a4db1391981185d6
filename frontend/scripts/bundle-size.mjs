// Prints the home screen's initial JavaScript, gzipped: every script the exported index.html
// loads before anything else happens (not the noModule polyfills). Fails when it is over the budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const BUDGET_KB = 250;
const out = new URL("../out/", import.meta.url).pathname;
const html = readFileSync(join(out, "index.html"), "utf8");
const sources = new Set();
// noModule scripts are legacy polyfills that modern browsers neither fetch nor run.
for (const match of html.matchAll(/<script([^>]*)\ssrc="([^"]+\.js)"([^>]*)>/g)) {
  if (!/nomodule/i.test(match[1] + match[3])) sources.add(match[2]);
}
for (const match of html.matchAll(/<link[^>]*rel="preload"[^>]*as="script"[^>]*href="([^"]+\.js)"/g))
  sources.add(match[1]);
for (const match of html.matchAll(/<link[^>]*href="([^"]+\.js)"[^>]*rel="preload"[^>]*as="script"/g))
  sources.add(match[1]);
let raw = 0;
let gzipped = 0;
for (const src of sources) {
  const bytes = readFileSync(join(out, src.replace(/^\//, "").split("?")[0]));
  raw += bytes.length;
  gzipped += gzipSync(bytes, { level: 9 }).length;
}
const kb = (n) => (n / 1024).toFixed(1);
console.log(`home initial JS: ${sources.size} files, ${kb(raw)} KB raw, ${kb(gzipped)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (gzipped > BUDGET_KB * 1024) {
  console.error("home initial JS is over budget");
  process.exit(1);
}
