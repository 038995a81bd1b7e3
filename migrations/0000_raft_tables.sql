CREATE TABLE `node_identity` (
	`singleton` integer PRIMARY KEY NOT NULL,
	`cluster` text NOT NULL,
	`node_id` integer NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `raft_hard_state` (
	`singleton` integer PRIMARY KEY NOT NULL,
	`term` integer NOT NULL,
	`vote` integer NOT NULL,
	`commit_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `raft_log` (
	`idx` integer PRIMARY KEY NOT NULL,
	`term` integer NOT NULL,
	`kind` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE TABLE `raft_snapshot` (
	`singleton` integer PRIMARY KEY NOT NULL,
	`idx` integer NOT NULL,
	`term` integer NOT NULL,
	`voters` text NOT NULL,
	`learners` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `state_machine_meta` (
	`singleton` integer PRIMARY KEY NOT NULL,
	`applied_index` integer NOT NULL
);
