import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeApi } from "../api/api.conformance.ts";
import { MemoryNetwork } from "../transport/memory-transport.ts";
import { startConcordNode } from "./concord-node.ts";
import { silentLogger } from "./logger.ts";

// The whole HTTP contract against a real one-node cluster: raft, libSQL storage and the
// chat state machine, through app.request(); only NATS is replaced by the in-process network.
describeApi("a real 1-node cluster", async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-api-"));
  const node = await startConcordNode(
    {
      id: 1,
      cluster: "api-test",
      dataDir: dir,
      natsServers: [],
      bootstrapVoters: [1],
      tickIntervalMs: 10,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 2,
      snapshotEveryEntries: 10_000,
    },
    silentLogger,
    { transport: new MemoryNetwork().endpoint(1) },
  );
  await node.backend.readBarrier(5000); // resolves once the node leads and has applied its no-op
  return {
    backend: node.backend,
    dispose: async () => {
      await node.stop({ transferLeadership: false });
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
