// The seed page's server.mts: express + RunTree.fromHeaders + withRunTree around a traceable.
// Usage: node server.mjs. Listens on a free 127.0.0.1 port and prints {"port": N} once ready.
// SIGTERM flushes the pending run batches, then exits.
import { Client, RunTree } from "langsmith";
import { getCurrentRunTree, traceable, withRunTree } from "langsmith/traceable";
import express from "express";
import bodyParser from "body-parser";

const client = new Client();

const server = traceable(
  (text) => {
    const runTree = getCurrentRunTree();
    return {
      reply: `Hello from the server! Received "${text}"`,
      run_id: runTree.id,
      trace_id: runTree.trace_id,
      parent_run_id: runTree.parent_run_id ?? null,
    };
  },
  { name: "server", client },
);

const app = express();
app.use(bodyParser.text());

app.post("/", async (req, res) => {
  const runTree = RunTree.fromHeaders(req.headers);
  const result = await withRunTree(runTree, () => server(req.body));
  res.json(result);
});

app.get("/health", (req, res) => res.json({ status: "ok" }));

const listener = app.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: listener.address().port }));
});

process.on("SIGTERM", async () => {
  await client.awaitPendingTraceBatches();
  listener.close();
  process.exit(0);
});
