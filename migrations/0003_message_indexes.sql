DROP INDEX `messages_by_sender`;--> statement-breakpoint
DROP INDEX `messages_by_recipient`;--> statement-breakpoint
DROP INDEX `messages_unread`;--> statement-breakpoint
CREATE INDEX `messages_by_pair` ON `messages` ((CASE WHEN "sender" <= "recipient" THEN "sender" ELSE "recipient" END),(CASE WHEN "sender" <= "recipient" THEN "recipient" ELSE "sender" END),`id`);--> statement-breakpoint
CREATE INDEX `messages_sent` ON `messages` (`sender`,`id`);--> statement-breakpoint
CREATE INDEX `messages_received` ON `messages` (`recipient`,("read_at" IS NULL),`id`);--> statement-breakpoint
-- `message` events are now read from the messages table (see chat-schema.ts); their old rows go.
DELETE FROM `events` WHERE `type` = 'message';