DROP INDEX `idempotency_by_index`;--> statement-breakpoint
ALTER TABLE `idempotency` ADD `at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `idempotency` ADD `seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `idempotency` ADD `digest` text;--> statement-breakpoint
CREATE INDEX `idempotency_by_time` ON `idempotency` (`at`);--> statement-breakpoint
CREATE INDEX `idempotency_by_account_seq` ON `idempotency` (`account`,`seq`);--> statement-breakpoint
ALTER TABLE `sessions` ADD `last_seen_at` text;--> statement-breakpoint
CREATE INDEX `sessions_by_created` ON `sessions` (`created_at`);--> statement-breakpoint
CREATE INDEX `sessions_by_last_seen` ON `sessions` (`last_seen_at`);