import type { CommandInteraction } from 'discord.js';
import type { Admitted } from '../shared/limits.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import { refuse } from './respond.ts';
import { tFor } from './language.ts';
import { discordReplyText } from './texts.ts';

/**
 * The rate limit and the queue, then the deferred reply (Discord's 3-second rule), then `work` in the
 * background with the admission. A refused request is answered here. The place the admission holds is
 * given back however the rest goes (see RequestLimits.withAdmission), a failed deferral included.
 */
export async function admitAndDefer(interaction: CommandInteraction, deps: DiscordBotDeps, work: (admitted: Admitted) => Promise<void>): Promise<void> {
  const admission = deps.limits.withAdmission(`${PLATFORM}:${interaction.user.id}`, async (admitted) => {
    try {
      await interaction.deferReply();
    } catch (err) {
      // Too late (the interaction expired) or Discord is down: nobody is waiting for an answer any more.
      deps.log.warn({ err, interactionId: interaction.id }, 'could not defer the reply; dropping the request');
      return;
    }
    await work(admitted);
  });
  if (admission.status === 'rate_limited') return refuse(interaction, discordReplyText(tFor(interaction), 'rate_limited', { retryAfterSec: admission.retryAfterSec }));
  if (admission.status === 'busy') return refuse(interaction, discordReplyText(tFor(interaction), 'busy'));
  deps.jobs.track(admission.done);
}
