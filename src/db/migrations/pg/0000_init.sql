CREATE TABLE "match_results" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "match_results_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"platform" text NOT NULL,
	"chat_id" text NOT NULL,
	"user_id" text NOT NULL,
	"celebrity" text NOT NULL,
	"similarity" double precision NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "match_results_similarity_check" CHECK ("match_results"."similarity" >= 0 and "match_results"."similarity" <= 100)
);
--> statement-breakpoint
CREATE TABLE "users" (
	"platform" text NOT NULL,
	"user_id" text NOT NULL,
	"display_name" text,
	"display_name_at" timestamp with time zone,
	"hidden" boolean DEFAULT false NOT NULL,
	CONSTRAINT "users_pk" PRIMARY KEY("platform","user_id"),
	CONSTRAINT "users_platform_check" CHECK ("users"."platform" in ('telegram', 'discord'))
);
--> statement-breakpoint
ALTER TABLE "match_results" ADD CONSTRAINT "match_results_user_fk" FOREIGN KEY ("platform","user_id") REFERENCES "public"."users"("platform","user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "match_results_leaderboard_idx" ON "match_results" USING btree ("platform","chat_id","user_id","similarity" DESC NULLS FIRST,"created_at");--> statement-breakpoint
CREATE INDEX "match_results_user_idx" ON "match_results" USING btree ("platform","user_id");