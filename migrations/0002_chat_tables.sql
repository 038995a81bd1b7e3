CREATE TABLE `accounts` (
	`username` text PRIMARY KEY NOT NULL,
	`password_hash` text NOT NULL,
	`created_at` text NOT NULL,
	`created_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`idx` integer NOT NULL,
	`seq` integer NOT NULL,
	`account` text NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`idx`, `seq`, `account`)
);
--> statement-breakpoint
CREATE INDEX `events_by_account` ON `events` (`account`,`idx`,`seq`);--> statement-breakpoint
CREATE TABLE `idempotency` (
	`account` text NOT NULL,
	`key` text NOT NULL,
	`idx` integer NOT NULL,
	`result` text NOT NULL,
	PRIMARY KEY(`account`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_by_index` ON `idempotency` (`idx`);--> statement-breakpoint
CREATE INDEX `idempotency_by_account` ON `idempotency` (`account`,`idx`);--> statement-breakpoint
CREATE TABLE `messages` (
	`id` integer PRIMARY KEY NOT NULL,
	`sender` text NOT NULL,
	`recipient` text NOT NULL,
	`content` text NOT NULL,
	`sent_at` text NOT NULL,
	`read_at` text,
	`sender_deleted` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `messages_by_sender` ON `messages` (`sender`,`recipient`,`id`);--> statement-breakpoint
CREATE INDEX `messages_by_recipient` ON `messages` (`recipient`,`sender`,`id`);--> statement-breakpoint
CREATE INDEX `messages_unread` ON `messages` (`recipient`,`id`) WHERE read_at IS NULL;--> statement-breakpoint
CREATE TABLE `sessions` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`created_at` text NOT NULL,
	`created_index` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sessions_by_username` ON `sessions` (`username`,`created_index`);