import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "./api-env.ts";

export type Consistency = "linearizable" | "local";

/**
 * Before a read: linearizable (the default) waits for a read barrier, so the answer
 * reflects every write acknowledged before the request; `local` answers from this node's
 * copy at once and says how far behind it may be (commit index minus applied index).
 */
export async function beginRead(c: Context<AppEnv>, deps: ApiDeps, consistency: Consistency): Promise<void> {
  if (consistency === "local") {
    const status = deps.backend.status();
    c.header("X-Concord-Applied-Index", String(status.applied));
    c.header("X-Concord-Commit-Index", String(status.commit));
    return;
  }
  if (c.var.barrierDone) return;
  await c.var.deadline.run((timeoutMs) => deps.backend.readBarrier(timeoutMs));
  c.set("barrierDone", true);
}
