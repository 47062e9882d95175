import type { CommandInteraction } from 'discord.js';
import type { Admitted } from '../shared/limits.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import { discordJob, type DiscordJobSpec } from './jobs.ts';
import { refuse } from './respond.ts';
import { tFor } from './language.ts';
import { discordReplyText } from './texts.ts';

/**
 * The rate limit and the queue, then the deferred reply (Discord's 3-second rule), then `work` in the
 * background with the admission, or, with a queue, the job a worker answers (`job`). A refused request
 * is answered here. The place the admission holds is given back however the rest goes (see
 * RequestLimits.withAdmission), a failed deferral included.
 */
export async function admitAndDefer(interaction: CommandInteraction, deps: DiscordBotDeps, work: (admitted: Admitted) => Promise<void>, job: DiscordJobSpec): Promise<void> {
  const defer = async (): Promise<boolean> => {
    try {
      await interaction.deferReply();
      return true;
    } catch (err) {
      // Too late (the interaction expired) or Discord is down: nobody is waiting for an answer any more.
      deps.log.warn({ err, interactionId: interaction.id }, 'could not defer the reply; dropping the request');
      return false;
    }
  };
  const admission = await deps.router.admit({
    platform: PLATFORM,
    userKey: `${PLATFORM}:${interaction.user.id}`,
    context: { interactionId: interaction.id, guildId: interaction.guildId, userId: interaction.user.id },
    local: async (admitted) => {
      if (await defer()) await work(admitted);
    },
    remote: async () => ((await defer()) ? discordJob(interaction, job) : null),
  });
  if (admission.status === 'rate_limited') return refuse(interaction, discordReplyText(tFor(interaction), 'rate_limited', { retryAfterSec: admission.retryAfterSec }));
  if (admission.status === 'busy') return refuse(interaction, discordReplyText(tFor(interaction), 'busy'));
  deps.jobs.track(admission.done);
}
