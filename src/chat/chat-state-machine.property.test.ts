import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Entry } from "../raft/types.ts";
import { EVENT_RETENTION_INDEXES, SWEEP_EVERY_INDEXES } from "./chat-limits.ts";
import { encodeCommand, encodeProposal } from "./command-codec.ts";
import type { ApplyResult, ChatCommand, Idempotency } from "./commands.ts";
import { ReplicaDir, TEST_EPOCH_MS, type ChatReplica } from "./testing/chat-replica.ts";

// Replicas that apply the same log must hold the same tables, however the log is cut
// into apply batches, whatever garbage it holds, and whether they got there by applying
// or by restoring another's snapshot.

const NAMES = ["ann", "ben", "cat", "dan"];
const someName = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.constantFrom("", "bad name", "x".repeat(33)) });
const tokenHash = fc.constantFrom("t1", "t2", "t3", "t4");
const content = fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) }, { weight: 1, arbitrary: fc.constantFrom("  ", " hi ", "😀", "a\ud800") });
/** Positions of earlier entries: turned into their log indexes (message ids) once indexes are known. */
const refs = fc.array(fc.nat({ max: 60 }), { minLength: 1, maxLength: 4 });

/** A command whose ids are still entry positions. */
type Template = { readonly kind: "command"; readonly command: ChatCommand; readonly refs: readonly number[] } | { readonly kind: "raw"; readonly data: Uint8Array };

const commandTemplate: fc.Arbitrary<Template> = fc
  .tuple(
    fc.oneof(
      { weight: 2, arbitrary: someName.map((username): ChatCommand => ({ type: "createAccount", username, passwordHash: `h-${username}` })) },
      { weight: 1, arbitrary: someName.map((username): ChatCommand => ({ type: "deleteAccount", username })) },
      { weight: 2, arbitrary: fc.tuple(someName, tokenHash).map(([username, token]): ChatCommand => ({ type: "createSession", username, tokenHash: token })) },
      { weight: 1, arbitrary: fc.tuple(someName, fc.option(tokenHash)).map(([username, token]): ChatCommand => ({ type: "revokeSessions", username, tokenHash: token })) },
      { weight: 1, arbitrary: fc.tuple(someName, tokenHash).map(([username, token]): ChatCommand => ({ type: "touchSession", username, tokenHash: token })) },
      {
        weight: 1,
        arbitrary: fc.tuple(someName, fc.option(tokenHash)).map(([username, keep]): ChatCommand => ({ type: "changePassword", username, passwordHash: `h2-${username}`, keepTokenHash: keep })),
      },
      { weight: 12, arbitrary: fc.tuple(someName, someName, content).map(([from, to, text]): ChatCommand => ({ type: "sendMessage", from, to, content: text })) },
      { weight: 3, arbitrary: someName.map((username): ChatCommand => ({ type: "markRead", username, ids: [], with: null, upTo: null })) },
      { weight: 2, arbitrary: fc.tuple(someName, someName).map(([username, other]): ChatCommand => ({ type: "markRead", username, ids: null, with: other, upTo: 0 })) },
      { weight: 3, arbitrary: someName.map((username): ChatCommand => ({ type: "deleteMessages", username, ids: [] })) },
    ),
    refs,
    fc.option(fc.tuple(fc.boolean(), fc.constantFrom("k1", "k2", "k3"), fc.option(fc.constantFrom("a".repeat(64), "b".repeat(64)))), { freq: 3 }),
  )
  .map(([command, ids, keyed]): Template => {
    if (keyed === null) return { kind: "command", command, refs: ids };
    const [ownAccount, key, digest] = keyed;
    const actor = command.type === "sendMessage" ? command.from : command.username;
    // Now and then a key scoped to the wrong account, which apply must refuse.
    const account = ownAccount || key !== "k3" ? actor : "ann";
    // Digests that agree, disagree (idempotency_key_mismatch) or are absent (older entries).
    const idempotency: Idempotency = digest === null ? { account, key } : { account, key, digest };
    return { kind: "command", command: { ...command, idempotency }, refs: ids };
  });

const rawTemplate: fc.Arbitrary<Template> = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.jsonValue({ maxDepth: 2 }).map((value) => encodeProposal(TEST_EPOCH_MS, new TextEncoder().encode(JSON.stringify({ v: 1, command: value })))),
).map((data): Template => ({ kind: "raw", data }));

const step = fc.record({
  template: fc.oneof({ weight: 12, arbitrary: commandTemplate }, { weight: 1, arbitrary: rawTemplate }),
  // Mostly consecutive; sometimes a jump that crosses the retention windows.
  gap: fc.oneof({ weight: 20, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: EVENT_RETENTION_INDEXES / 4, max: EVENT_RETENTION_INDEXES }) }),
  leaderTimeMs: fc.integer({ min: TEST_EPOCH_MS, max: TEST_EPOCH_MS + 1e10 }),
  /** Round the index up to the next sweep index, so time-based retention runs often. */
  align: fc.boolean(),
});

const scenario = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 60, size: "large" }),
  /** Where each replica cuts the log into apply batches. */
  cuts: fc.array(fc.array(fc.nat({ max: 45 }), { maxLength: 8 }), { minLength: 3, maxLength: 3 }),
});

type Step = { template: Template; gap: number; leaderTimeMs: number; align?: boolean };

/** Every scenario starts with the accounts created, so most commands have something to act on. */
const SIGN_UPS: readonly Step[] = NAMES.map((username) => ({
  template: { kind: "command", command: { type: "createAccount", username, passwordHash: `h-${username}` }, refs: [] },
  gap: 1,
  leaderTimeMs: TEST_EPOCH_MS,
}));

function toEntries(randomSteps: readonly Step[]): Entry[] {
  const steps = [...SIGN_UPS, ...randomSteps];
  const indexes: number[] = [];
  let index = 0;
  for (const s of steps) {
    index += s.gap;
    if (s.align === true) index = Math.ceil(index / SWEEP_EVERY_INDEXES) * SWEEP_EVERY_INDEXES;
    indexes.push(index);
  }
  return steps.map((s, position) => ({ index: indexes[position]!, term: 1, kind: "normal", data: entryData(s, indexes) }));
}

function entryData(s: Step, indexes: readonly number[]): Uint8Array {
  if (s.template.kind === "raw") return s.template.data;
  const { command, refs: positions } = s.template;
  const ids = positions.map((p) => indexes[p % indexes.length]!);
  let resolved = command;
  if (command.type === "deleteMessages") resolved = { ...command, ids };
  if (command.type === "markRead") resolved = command.ids !== null ? { ...command, ids } : { ...command, upTo: ids[0] ?? indexes[indexes.length - 1]! };
  return encodeProposal(s.leaderTimeMs, encodeCommand(resolved));
}

function batches(entries: readonly Entry[], cuts: readonly number[]): Entry[][] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < entries.length))].sort((a, b) => a - b);
  const out: Entry[][] = [];
  let start = 0;
  for (const point of [...points, entries.length]) {
    out.push(entries.slice(start, point));
    start = point;
  }
  return out;
}

async function applyAll(replica: ChatReplica, entries: readonly Entry[], cuts: readonly number[]): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  for (const batch of batches(entries, cuts)) results.push(...((await replica.machine.apply(batch)) as ApplyResult[]));
  return results;
}

/** An ApplyResult, or null for an empty entry (a leader no-op, which the base never hands to chat). */
function expectResultOrNoop(result: ApplyResult | null): void {
  expect(result === null || typeof result.ok === "boolean").toBe(true);
}

/** What every query answers for every name: equal state must answer equally. */
async function queryAnswers(replica: ChatReplica): Promise<unknown[]> {
  const q = replica.queries;
  const answers: unknown[] = [await q.listAccounts("*", 200, null), await q.listAccounts("?a*", 2, null)];
  for (const name of NAMES) {
    answers.push(await q.account(name), await q.passwordHash(name), await q.conversations(name), await q.unread(name, 200, null), await q.unreadCount(name));
    answers.push(await q.eventsAfter(name, 0, 200));
    for (const other of NAMES) answers.push(await q.conversation(name, other, 200, null));
  }
  for (const token of ["t1", "t2", "t3", "t4"]) answers.push(await q.sessionAccount(token), await q.session(token));
  return answers;
}

describe("ChatStateMachine properties", () => {
  const dirs: ReplicaDir[] = [];
  afterAll(() => {
    for (const dir of dirs) dir.cleanup();
  });
  async function freshDir(): Promise<ReplicaDir> {
    const dir = new ReplicaDir();
    dirs.push(dir);
    return dir;
  }

  test("the same log in different batch splits gives the same digest, tables, results and events", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ steps, cuts }) => {
        const dir = await freshDir();
        const entries = toEntries(steps);
        const outcomes = [];
        for (const replicaCuts of cuts) {
          const replica = await dir.open();
          const results = await applyAll(replica, entries, replicaCuts);
          outcomes.push({ results, events: replica.chat.drainEvents(), state: await replica.machine.appliedState(), tables: await replica.tableContents() });
        }
        for (const outcome of outcomes.slice(1)) expect(outcome).toEqual(outcomes[0]!);
        for (const result of outcomes[0]!.results) expectResultOrNoop(result);
        dir.cleanup();
      }),
      { numRuns: 60 },
    );
  }, 30_000); // ~2 s alone; more when the machine is busy

  test("a snapshot restored into a fresh replica gives the same digest, tables and answers", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ steps }) => {
        const dir = await freshDir();
        const source = await dir.open();
        const entries = toEntries(steps);
        await source.machine.apply(entries);
        const snapshot = await source.machine.snapshot();
        const copy = await dir.open();
        await copy.machine.restore({ index: snapshot.index, term: 1, conf: { voters: [1], learners: [] } }, snapshot.data);
        await snapshot.data.release?.();
        expect(await copy.machine.appliedState()).toEqual(await source.machine.appliedState());
        expect(await copy.tableContents()).toEqual(await source.tableContents());
        expect(await queryAnswers(copy)).toEqual(await queryAnswers(source));
        dir.cleanup();
      }),
      { numRuns: 25 },
    );
  }, 30_000);

  test("random strings and bytes never crash apply", async () => {
    const dir = await freshDir();
    const replica = await dir.open();
    await replica.run(...NAMES.map((username): ChatCommand => ({ type: "createAccount", username, passwordHash: "h" })));
    const anyText = fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom(...NAMES));
    const anyCommand = fc.oneof(
      fc.record({ type: fc.constant("createAccount"), username: anyText, passwordHash: anyText }),
      fc.record({ type: fc.constant("createSession"), username: anyText, tokenHash: anyText }),
      fc.record({ type: fc.constant("touchSession"), username: anyText, tokenHash: anyText }),
      fc.record({ type: fc.constant("changePassword"), username: anyText, passwordHash: anyText, keepTokenHash: fc.option(anyText) }),
      fc.record({ type: fc.constant("sendMessage"), from: anyText, to: anyText, content: anyText, idempotency: fc.record({ account: anyText, key: anyText, digest: anyText }) }),
      fc.record({ type: fc.constant("sendMessage"), from: anyText, to: anyText, content: anyText }),
      fc.record({ type: fc.constant("markRead"), username: anyText, ids: fc.option(fc.array(fc.double())), with: fc.option(anyText), upTo: fc.option(fc.double()) }),
      fc.record({ type: fc.constant("deleteMessages"), username: anyText, ids: fc.array(fc.oneof(fc.double(), fc.integer())) }),
      fc.jsonValue(),
    );
    const anyEntry = fc.oneof(
      fc.uint8Array({ maxLength: 100 }),
      anyCommand.map((command) => encodeProposal(TEST_EPOCH_MS, new TextEncoder().encode(JSON.stringify({ v: 1, command })))),
      fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.string({ unit: "binary" })).map(([time, text]) => new Uint8Array([...time, ...new TextEncoder().encode(text)])),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(anyEntry, { minLength: 1, maxLength: 20 }), async (datas) => {
        const results = await replica.run(...datas);
        for (const result of results) expectResultOrNoop(result);
      }),
      { numRuns: 100 },
    );
  });
});
