// Cleaning up after a test that made network namespaces: whatever still runs inside one is
// ended by the PIDs it holds, then the namespace goes.

import { spawnSync } from "node:child_process";

export function removeNetworkNamespace(name: string): void {
  const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout?.split("\n").filter(Boolean) ?? [];
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  spawnSync("ip", ["netns", "del", name]);
}
