CREATE TABLE `match_results` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`platform` text NOT NULL,
	`chat_id` text NOT NULL,
	`user_id` text NOT NULL,
	`celebrity` text NOT NULL,
	`similarity` real NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`platform`,`user_id`) REFERENCES `users`(`platform`,`user_id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "match_results_similarity_check" CHECK("match_results"."similarity" >= 0 and "match_results"."similarity" <= 100)
);
--> statement-breakpoint
CREATE INDEX `match_results_leaderboard_idx` ON `match_results` (`platform`,`chat_id`,`user_id`,"similarity" desc,`created_at`);--> statement-breakpoint
CREATE INDEX `match_results_user_idx` ON `match_results` (`platform`,`user_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`platform` text NOT NULL,
	`user_id` text NOT NULL,
	`display_name` text,
	`display_name_at` integer,
	`hidden` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`platform`, `user_id`),
	CONSTRAINT "users_platform_check" CHECK("users"."platform" in ('telegram', 'discord'))
);
