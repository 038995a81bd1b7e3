// The layer table of ARCHITECTURE.md ("Layers and the dependency rule"), one rule or more
// per row, checked by `npm run lint:deps` (CI runs it before `npm test`). Unit tests and
// their helpers (*.test.ts, *.conformance.ts, testing/ folders) sit next to the code but
// are tests: like test/, they may import anything, so the rules look at the code that
// ships. test/purity.test.ts checks src/raft further (no clock, timers, process, …).
//
// There is no baseline of tolerated violations: every row holds strictly. The one
// exception to the table is written out below as a rule of its own, with its reason
// (harness/bench/growth.ts, a benchmark timing one of the node's internal steps).
//
// It runs under Bun (`bun node_modules/.bin/depcruise`): dependency-cruiser 18 wants
// Node >= 22, and Debian's Node may be older.

/** Tests and test helpers next to the code. */
const TESTS = "(\\.test\\.ts$|\\.conformance\\.ts$|/testing/)";
/** Raft's data types and their helpers, which other layers share; not the algorithm. */
const RAFT_TYPES = "^src/raft/(types|message|snapshot-bytes)\\.ts$";
/** What chat may use of storage: the schema and the SQL connection apply writes through; not the raft log or snapshots. */
const STORAGE_SCHEMA = "^src/storage/(schema|chat-schema|sql-connection|node-database|row-chunks)\\.ts$";
/** Chat's queries and the types and limits the API validates against; not apply, the codec or the state machine. */
const CHAT_QUERIES = "^src/chat/(chat-queries|commands|chat-limits)\\.ts$";

/** What harness may import: itself, the public client (and its chat types), process control (src/cli, NATS identities and permissions). */
const HARNESS_ALLOWED = [
  "^(harness|src/client|src/cli)/",
  "^src/transport/(nats-identity|subjects)\\.ts$",
  "^src/chat/(commands|chat-queries|chat-limits)\\.ts$",
];
/** The benchmark with the table's one exception (below). */
const GROWTH_BENCH = "harness/bench/growth\\.ts$";

/** A rule for one row: code under `from` may import, inside the repository, only `allowed`. */
function mayImportOnly(name, comment, from, allowed) {
  return {
    name,
    comment,
    severity: "error",
    from: { path: from, pathNot: TESTS },
    to: { path: "^(src|harness|test|migrations)/", pathNot: allowed },
  };
}

module.exports = {
  forbidden: [
    {
      name: "raft-imports-nothing-outside",
      comment: "src/raft: nothing outside itself (no node:*, Bun, NATS, libSQL, npm packages)",
      severity: "error",
      from: { path: "^src/raft/", pathNot: TESTS },
      to: { pathNot: "^src/raft/" },
    },
    mayImportOnly("storage-only-raft-types", "src/storage: raft types", "^src/storage/", ["^src/storage/", RAFT_TYPES]),
    mayImportOnly("transport-only-raft-types", "src/transport: raft types", "^src/transport/", ["^src/transport/", RAFT_TYPES]),
    {
      name: "chat-never-raft",
      comment: "src/chat: never raft",
      severity: "error",
      from: { path: "^src/chat/", pathNot: TESTS },
      to: { path: "^src/raft/" },
    },
    mayImportOnly("chat-only-storage-schema", "src/chat: storage schema", "^src/chat/", ["^src/chat/", STORAGE_SCHEMA]),
    mayImportOnly("node-only-lower-layers", "src/node: raft, storage, transport, chat", "^src/node/", ["^src/(node|raft|storage|transport|chat)/"]),
    mayImportOnly("api-only-node-and-chat-queries", "src/api: node's public interface, chat queries", "^src/api/", ["^src/(api|node)/", CHAT_QUERIES, "^src/raft/types\\.ts$"]),
    {
      name: "api-never-raft-internals",
      comment: "src/api: raft's types at most, and only as types (the node's status carries them); never the algorithm",
      severity: "error",
      from: { path: "^src/api/", pathNot: TESTS },
      to: { path: "^src/raft/", dependencyTypesNot: ["type-only"] },
    },
    mayImportOnly("client-only-chat-types-and-limits", "src/client: chat types and limits", "^src/client/", ["^src/client/", "^src/chat/chat-limits\\.ts$", "^src/chat/(commands|chat-queries)\\.ts$"]),
    {
      name: "client-chat-types-only",
      comment: "src/client: chat's commands and queries as types only (the client runs in the browser)",
      severity: "error",
      from: { path: "^src/client/", pathNot: TESTS },
      to: { path: "^src/chat/(commands|chat-queries)\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    mayImportOnly("web-only-client", "src/web: the client", "^src/web/", ["^src/(web|client)/"]),
    {
      name: "harness-never-raft",
      comment: "harness: never src/raft internals (it drives real processes)",
      severity: "error",
      from: { path: "^harness/" },
      to: { path: "^src/raft/" },
    },
    mayImportOnly("harness-only-client-and-process-control", "harness: the public client (and its chat types) and process control (src/cli, NATS identities and permissions)", `^(?!${GROWTH_BENCH})harness/`, HARNESS_ALLOWED),
    // The one exception to the table. `concord bench`'s growth phase reports how long the
    // node's snapshot step takes on a million-message database; no HTTP or CLI path does
    // that step on demand (a node snapshots when its log reaches half the state's size), so
    // the benchmark runs the node's own copy (state-copy.ts, with chat's table list) on a
    // live follower's database file. It starts no node code in a node process and touches
    // no raft: those two files, for that one file, and nothing else.
    mayImportOnly("harness-growth-bench-times-the-snapshot-copy", "harness/bench/growth.ts: as harness, plus the node's snapshot copy step and chat's table list, which it times", `^${GROWTH_BENCH}`, [
      ...HARNESS_ALLOWED,
      "^src/node/state-copy\\.ts$",
      "^src/chat/chat-state-machine\\.ts$",
    ]),
    {
      name: "no-circular",
      comment: "no import cycles",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "every import resolves",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // typescript 7.0 has no API dependency-cruiser can use; swc parses TypeScript, type-only imports included.
    parser: "swc",
    // Packages are leaves (so src/raft importing one is caught), not cruised; a package's
    // own node_modules inside the tree (test/contract/generator) is not our code.
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^.+/node_modules/" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".json"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
