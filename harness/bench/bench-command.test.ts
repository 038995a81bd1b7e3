import { expect, test } from "bun:test";
import { BenchUsageError, parseBenchOptions } from "./bench-command.ts";
import { urlsFromLeader } from "./bench-target.ts";
import { senders } from "./workload.ts";

test("defaults follow issue 7", () => {
  const o = parseBenchOptions([]);
  expect(o.clients).toEqual([1, 16, 64, 256]);
  expect(o).toMatchObject({ seconds: 10, warmupSeconds: 2, failoverTrials: 3, failoverClients: 16, growthMessages: 1_000_000, growthClients: 64, target: null, json: false, out: "bench-results" });
});

test("options parse; bad ones are usage errors", () => {
  const o = parseBenchOptions(["--clients", "1,4", "--seconds", "0.5", "--growth-messages", "1_000_000", "--target", "http://a:1,http://b:2/", "--json"]);
  expect(o).toMatchObject({ clients: [1, 4], seconds: 0.5, growthMessages: 1_000_000, target: ["http://a:1", "http://b:2/"], json: true });
  for (const bad of [["--clients", "0"], ["--clients", "x"], ["--seconds", "0"], ["--target", "ftp://x"], ["--nope"], ["--failover-trials", "-1"]]) {
    expect(() => parseBenchOptions(bad)).toThrow(BenchUsageError);
  }
});

test("client placement: client 0 on the leader, then round-robin over every node", () => {
  const urls = new Map([[1, "u1"], [2, "u2"], [3, "u3"], [4, "u4"], [5, "u5"]]);
  expect(urlsFromLeader(urls, 3)).toEqual(["u3", "u4", "u5", "u1", "u2"]);
  const list = senders([{ username: "a", token: "ta" }, { username: "b", token: "tb" }], urlsFromLeader(urls, 3), 6);
  expect(list.map((s) => s.url)).toEqual(["u3", "u4", "u5", "u1", "u2", "u3"]);
  expect(list.map((s) => s.to)).toEqual(["b", "a", "b", "a", "b", "a"]);
});
