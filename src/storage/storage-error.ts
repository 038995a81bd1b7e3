export type StorageErrorCode =
  | "closed"
  | "log_gap" // a write would leave a hole in the log
  | "corrupt" // the database file is unreadable or fails its integrity check
  | "newer_schema" // written by a newer Concord: refuse rather than guess
  | "wrong_cluster" // the data directory belongs to another cluster
  | "wrong_node"; // … or to another node id

/** A storage failure a caller can act on; `code` is stable. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}
