import type { CommandInteraction } from 'discord.js';
import type { FaceChoice } from '../../core/engineTypes.ts';
import { jobId, type MatchJob, type MatchJobData } from '../../queue/matchJobs.ts';
import { PLATFORM } from './deps.ts';
import type { PhotoSource, VideoSource } from './media.ts';
import { displayNameOf, type Subject } from './respond.ts';

// A Discord request as a queue job. The front end has deferred the reply; the worker answers through
// the interaction's webhook with its token (valid 15 minutes from the interaction, no bot token needed)
// and downloads the picture from its URL. The token is the job's only secret: the job is deleted when
// it ends, and logs cut interaction tokens out of any URL.
// The user's language travels as the interaction's locale; the face asked for and the `gender` option
// (when given) travel in the spec; the stored gender setting is read by the worker from the shared
// database. A source is an attachment's or an embed's URL (Discord's CDN or media proxy), or an avatar's.

export type DiscordJobSpec =
  | { kind: 'photo'; source: PhotoSource; subject: Subject; face?: FaceChoice; genderOption?: string | null }
  | { kind: 'video'; source: VideoSource; maxBytes: number; subject?: Subject; genderOption?: string | null }
  | { kind: 'morph'; source: PhotoSource; face?: FaceChoice };

export type DiscordJob = MatchJobData & {
  platform: typeof PLATFORM;
  interactionId: string;
  applicationId: string;
  token: string;
  guildId: string | null;
  channelId: string | null;
  user: { id: string; bot: boolean; username: string; globalName: string | null };
  /** As the leaderboard shows the user (their server nickname where they have one). */
  displayName: string;
  locale: string;
  guildLocale: string | null;
} & DiscordJobSpec;

export function discordJob(interaction: CommandInteraction, spec: DiscordJobSpec): MatchJob<DiscordJob> {
  const { user } = interaction;
  return {
    id: jobId('dc', interaction.id),
    data: {
      platform: PLATFORM,
      admittedAt: Date.now(),
      interactionId: interaction.id,
      applicationId: interaction.applicationId,
      token: interaction.token,
      guildId: interaction.guildId,
      channelId: interaction.channelId ?? null,
      user: { id: user.id, bot: user.bot, username: user.username, globalName: user.globalName },
      displayName: displayNameOf(interaction),
      locale: interaction.locale,
      guildLocale: interaction.guildLocale,
      ...spec,
    },
  };
}
