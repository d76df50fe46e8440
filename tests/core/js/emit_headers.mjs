// Reads cases (JSON on stdin), makes each run with langsmith's JS SDK, prints its headers and fields.
import { randomUUID } from "node:crypto";
import { RunTree } from "langsmith/run_trees";
import { traceable, getCurrentRunTree } from "langsmith/traceable";
import { describe, intercepted, offlineClient, readStdinJson, unexpectedFetches } from "./offline.mjs";

function config(spec) {
  const made = { name: spec.name ?? "js-run", tags: spec.tags, metadata: spec.metadata, client: offlineClient };
  if (spec.project_name) made.project_name = spec.project_name;
  if (spec.uuid4) made.id = randomUUID();
  if (spec.start_offset_ms) made.start_time = Date.now() + spec.start_offset_ms;
  return made;
}

async function emit(spec) {
  if (spec.kind === "traceable") {
    const seen = [];
    const inner = traceable(async () => seen.push(getCurrentRunTree()), { name: "inner", tags: ["inner"] });
    const outer = traceable(
      async () => {
        seen.push(getCurrentRunTree());
        await inner();
      },
      { ...config(spec), tracingEnabled: true },
    );
    await outer();
    return seen.map((run) => ({ headers: run.toHeaders(), ...describe(run) }));
  }
  let run = new RunTree(config(spec));
  for (let depth = 0; depth < (spec.depth ?? 0); depth++) {
    run = run.createChild({ name: `child-${depth}`, tags: [`level-${depth}`], metadata: { level: depth } });
  }
  return [{ headers: run.toHeaders(), ...describe(run) }];
}

const cases = await readStdinJson();
const results = [];
for (const spec of cases) results.push(await emit(spec));
await offlineClient.awaitPendingTraceBatches();
console.log(JSON.stringify({ results, intercepted, unexpected_fetches: unexpectedFetches }));
