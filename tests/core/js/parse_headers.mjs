// Reads a list of header objects (JSON on stdin); for each prints what RunTree.fromHeaders makes of it,
// and a child created under it with its headers (or the error fromHeaders threw).
import { RunTree } from "langsmith/run_trees";
import { describe, readStdinJson, unexpectedFetches } from "./offline.mjs";

const results = [];
for (const headers of await readStdinJson()) {
  try {
    const parent = RunTree.fromHeaders(headers);
    if (parent === undefined) {
      results.push(null);
      continue;
    }
    const child = parent.createChild({ name: "js-child", tags: ["js"], metadata: { js: true } });
    results.push({ ...describe(parent), child: { headers: child.toHeaders(), ...describe(child) } });
  } catch (error) {
    results.push({ error: String(error) });
  }
}
console.log(JSON.stringify({ results, unexpected_fetches: unexpectedFetches }));
