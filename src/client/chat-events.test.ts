import { afterEach, describe, expect, test } from "bun:test";
import type { ChatStreamEvent } from "./chat-events.ts";
import { ConcordClient } from "./concord-client.ts";
import type { StreamStatus } from "./sse-stream.ts";
import { FakeNodes, apiError, sampleMessage, sseResponse } from "./testing/fake-nodes.ts";

const nodes = new FakeNodes();
afterEach(() => nodes.stopAll());

const messageEvent = (id: number) => `id: ${id}\nevent: message\ndata: ${JSON.stringify(sampleMessage(id))}\n\n`;

/** Resolves once `predicate` holds, polling; fails the test after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

describe("events", () => {
  test("resume on another node: Last-Event-ID of the last event, replays dropped, each index once", async () => {
    const lastEventIds: (string | null)[] = [];
    const first = nodes.start((request) => {
      lastEventIds.push(request.headers.get("last-event-id"));
      const stream = sseResponse();
      stream.write(": hello\n\n");
      stream.write(messageEvent(1) + messageEvent(2));
      // Index 3 arrives split across writes, then the node goes away.
      const third = messageEvent(3);
      stream.write(third.slice(0, 20));
      setTimeout(() => {
        stream.write(third.slice(20));
        stream.close();
      }, 20);
      return stream.response;
    });
    const second = nodes.start((request) => {
      lastEventIds.push(request.headers.get("last-event-id"));
      const stream = sseResponse();
      // A node may replay from a little earlier than asked; the client must drop it.
      stream.write(messageEvent(2) + messageEvent(3) + messageEvent(4));
      stream.write('id: 5\nevent: messages_read\ndata: {"ids":[4],"by":"bob"}\n\n');
      return stream.response;
    });
    const client = new ConcordClient({ nodes: [first.url, second.url], token: "t" });
    const events: ChatStreamEvent[] = [];
    const statuses: StreamStatus[] = [];

    const subscription = client.events({ onEvent: (e) => events.push(e), onStatus: (s) => statuses.push(s) });
    await until(() => events.length >= 5);
    subscription.close();
    expect(await subscription.closed).toBeNull();

    expect(events.map((e) => [e.id, e.type])).toEqual([[1, "message"], [2, "message"], [3, "message"], [4, "message"], [5, "messages_read"]]);
    expect(events[4]?.data).toEqual({ ids: [4], by: "bob" });
    expect(lastEventIds).toEqual([null, "3"]);
    expect(first.requests[0]?.headers.get("authorization")).toBe("Bearer t");
    expect(subscription.lastEventId).toBe(5);
    expect(statuses.map((s) => [s.state, s.node])).toEqual([
      ["connecting", first.url],
      ["connected", first.url],
      ["reconnecting", first.url],
      ["connecting", second.url],
      ["connected", second.url],
      ["closed", second.url],
    ]);
  });

  test("a dead first node and a given lastEventId: connects to the next node, resuming after it", async () => {
    const dead = await nodes.dead();
    const live = nodes.start(() => {
      const stream = sseResponse();
      stream.write(messageEvent(10) + messageEvent(11));
      return stream.response;
    });
    const client = new ConcordClient({ nodes: [dead, live.url], token: "t" });
    const ids: (number | null)[] = [];

    const subscription = client.events({ lastEventId: 10, onEvent: (e) => ids.push(e.id) });
    await until(() => ids.length >= 1);
    subscription.close();

    expect(ids).toEqual([11]);
    expect(live.requests[0]?.headers.get("last-event-id")).toBe("10");
  });

  test("a silent node (stopped process) is left after the idle timeout", async () => {
    const stalled = nodes.start(() => {
      const stream = sseResponse();
      stream.write(messageEvent(1)); // …then nothing, and the connection stays open
      return stream.response;
    });
    const live = nodes.start((request) => {
      const stream = sseResponse();
      stream.write(messageEvent(Number(request.headers.get("last-event-id")) + 1));
      return stream.response;
    });
    const client = new ConcordClient({ nodes: [stalled.url, live.url], token: "t", eventIdleTimeoutMs: 150 });
    const ids: (number | null)[] = [];

    const subscription = client.events({ onEvent: (e) => ids.push(e.id) });
    await until(() => ids.length >= 2);
    subscription.close();

    expect(ids).toEqual([1, 2]);
  });

  test("a reset reaches the caller and becomes the new starting point", async () => {
    let connection = 0;
    const node = nodes.start((request) => {
      connection++;
      const stream = sseResponse();
      if (connection === 1) {
        stream.write(messageEvent(100));
        stream.write('id: 50\nevent: reset\ndata: {"reason":"compacted"}\n\n');
        stream.write(messageEvent(51));
        stream.close();
      } else {
        expect(request.headers.get("last-event-id")).toBe("51");
        stream.write(messageEvent(52));
      }
      return stream.response;
    });
    const client = new ConcordClient({ nodes: [node.url], token: "t" });
    const events: ChatStreamEvent[] = [];

    const subscription = client.events({ onEvent: (e) => events.push(e) });
    await until(() => events.length >= 4);
    subscription.close();

    expect(events.map((e) => [e.id, e.type])).toEqual([[100, "message"], [50, "reset"], [51, "message"], [52, "message"]]);
    expect(events[1]?.data).toEqual({ reason: "compacted" });
  });

  test("401 ends the stream for good: no reconnect, closed settles with the error", async () => {
    const node = nodes.start(() => apiError(401, "unauthorized", "session revoked"));
    const other = nodes.start(() => sseResponse().response);
    const client = new ConcordClient({ nodes: [node.url, other.url], token: "old" });
    const states: string[] = [];

    const subscription = client.events({ onEvent: () => {}, onStatus: (s) => states.push(s.state) });
    const error = await subscription.closed;

    expect(error?.code).toBe("unauthorized");
    expect(error?.status).toBe(401);
    expect(states).toEqual(["connecting", "closed"]);
    expect(other.requests).toHaveLength(0);
  });

  test("503 and refused connections back off and keep trying until close()", async () => {
    const sick = nodes.start(() => apiError(503, "unavailable", "no leader"));
    const client = new ConcordClient({ nodes: [sick.url, await nodes.dead()], token: "t" });
    const retries: number[] = [];

    const subscription = client.events({
      onEvent: () => {},
      onStatus: (s) => {
        if (s.state === "reconnecting") retries.push(s.retryInMs ?? -1);
      },
    });
    await until(() => retries.length >= 4);
    subscription.close();

    expect(await subscription.closed).toBeNull();
    // Exponential: each failed connect waits at least as long as half the previous cap allowed.
    expect(retries[3]!).toBeGreaterThan(retries[0]!);
    expect(Math.max(...retries)).toBeLessThanOrEqual(10_000);
  });
});

test("close() inside onEvent stops delivery at once, even mid-chunk", async () => {
  const node = nodes.start(() => {
    const stream = sseResponse();
    stream.write(messageEvent(1) + messageEvent(2) + messageEvent(3));
    return stream.response;
  });
  const client = new ConcordClient({ nodes: [node.url], token: "t" });
  const ids: (number | null)[] = [];
  const subscription = client.events({
    onEvent: (e) => {
      ids.push(e.id);
      subscription.close();
    },
  });
  expect(await subscription.closed).toBeNull();
  expect(ids).toEqual([1]);
});
