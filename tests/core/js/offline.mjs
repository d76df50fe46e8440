// Shared by the interop scripts: keep langsmith off the network and describe runs as JSON.
import { Client } from "langsmith";

export const unexpectedFetches = [];
globalThis.fetch = async (url) => {
  unexpectedFetches.push(String(url));
  throw new Error("network access is refused in the interop tests");
};

// A real Client whose transport records requests instead of sending them: traceable posts runs.
export const intercepted = [];
export const offlineClient = new Client({
  apiUrl: "http://127.0.0.1:9",
  apiKey: "offline",
  autoBatchTracing: false,
  fetchImplementation: async (url) => {
    intercepted.push(String(url));
    return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
  },
});

export function describe(run) {
  return {
    id: run.id,
    trace_id: run.trace_id,
    parent_run_id: run.parent_run?.id ?? run.parent_run_id ?? null,
    dotted_order: run.dotted_order,
    tags: run.tags ?? [],
    metadata: run.extra?.metadata ?? {},
    project_name: run.project_name ?? null,
  };
}

export async function readStdinJson() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}
