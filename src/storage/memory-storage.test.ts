import { MemoryRaftStorage } from "./memory-storage.ts";
import { describeRaftStorage } from "./raft-storage.conformance.ts";

describeRaftStorage("memory", async () => {
  const storage = new MemoryRaftStorage();
  return { storage, reopen: async () => storage.reopen(), cleanup: async () => {} };
});
