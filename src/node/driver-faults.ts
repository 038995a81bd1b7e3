// The driver's deliberate bugs, in a file of their own: RaftNode takes them in its
// options and SnapshotLifecycle acts on them, and neither may import the other's file
// both ways (no import cycles).

/** Each re-creates a driver bug that was fixed, so the simulator can show it catches it. */
export interface DriverTestingFaults {
  /** At start, take the applied entry's term from the last snapshot, not from the log. */
  snapshotTermFromLastSnapshot?: boolean;
  /** Stage a received snapshot's bytes before the core has looked at its message, replacing any staged. */
  stageBeforeCoreChecks?: boolean;
  /** Delete the previous snapshot's bytes before the log's snapshot record moves to the new one. */
  dropOldSnapshotBeforeCompact?: boolean;
  /** Let a state copy begun before a snapshot install be kept after it. */
  keepCopyAcrossInstall?: boolean;
  /** Start a state copy while the core has handed out entries the state machine holds back, with the core's configuration. */
  snapshotWhileApplyHeld?: boolean;
}
