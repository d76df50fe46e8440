// The seed page's client.mts: langsmith's traceable + getCurrentRunTree().toHeaders() over fetch.
// Usage: node client.mjs BASE_URL. LANGSMITH_ENDPOINT/LANGSMITH_API_KEY/LANGSMITH_TRACING come from
// the environment. Prints one JSON line after every run batch has been sent.
import { Client } from "langsmith";
import { getCurrentRunTree, traceable } from "langsmith/traceable";

const base = process.argv[2];
const client = new Client();
let clientRun = null;

const callServer = traceable(
  async () => {
    const runTree = getCurrentRunTree();
    clientRun = { id: runTree.id, trace_id: runTree.trace_id, dotted_order: runTree.dotted_order };
    const response = await fetch(`${base}/my-route`, {
      method: "POST",
      headers: runTree.toHeaders(),
      body: "hello from node",
    });
    return { status: response.status, reply: await response.json() };
  },
  { name: "client", client },
);

const result = await callServer();
await client.awaitPendingTraceBatches();
console.log(JSON.stringify({ client_run: clientRun, ...result }));
