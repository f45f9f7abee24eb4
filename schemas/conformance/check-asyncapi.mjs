// Parse an AsyncAPI document with @asyncapi/parser; exit 1 on any error diagnostic.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const file = process.argv[2] ?? new URL("../asyncapi.json", import.meta.url).pathname;
const { document, diagnostics } = await new Parser().parse(await readFile(file, "utf8"));
const shown = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
for (const d of shown) console.error(`${DiagnosticSeverity[d.severity]} ${d.code} at /${d.path.join("/")}: ${d.message}`);
if (document === undefined || diagnostics.some((d) => d.severity === DiagnosticSeverity.Error)) process.exit(1);
console.log(`${file}: valid AsyncAPI ${document.version()}: ${document.channels().length} channels, ${document.messages().length} messages`);
