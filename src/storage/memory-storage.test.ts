import { MemoryRaftStorage } from "./memory-storage.ts";
import { describeRaftStorage } from "./raft-storage.conformance.ts";

describeRaftStorage("memory", async () => {
  const storage = new MemoryRaftStorage();
  // A restart keeps the same object: memory storage models a disk that survives.
  return { storage, reopen: async () => storage, cleanup: async () => {} };
});
