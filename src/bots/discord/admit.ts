import type { CommandInteraction } from 'discord.js';
import type { Admission } from '../shared/limits.ts';
import { PLATFORM, type DiscordBotDeps } from './deps.ts';
import { refuse } from './respond.ts';
import { tFor } from './language.ts';
import { discordReplyText } from './texts.ts';

/**
 * The rate limit and the queue, then the deferred reply (Discord's 3-second rule). Returns the admission
 * to run the work in, or null when the request was refused or can no longer be answered.
 */
export async function admitAndDefer(interaction: CommandInteraction, deps: DiscordBotDeps): Promise<Extract<Admission, { status: 'ok' }> | null> {
  const admission = deps.limits.acquire(`${PLATFORM}:${interaction.user.id}`);
  if (admission.status === 'rate_limited') {
    await refuse(interaction, discordReplyText(tFor(interaction), 'rate_limited', { retryAfterSec: admission.retryAfterSec }));
    return null;
  }
  if (admission.status === 'busy') {
    await refuse(interaction, discordReplyText(tFor(interaction), 'busy'));
    return null;
  }
  try {
    await interaction.deferReply();
  } catch (err) {
    // Too late (the interaction expired) or Discord is down: nobody is waiting for an answer any more.
    // The place admission reserved is given back by running nothing in it.
    deps.jobs.track(admission.run(async () => undefined).then(() => undefined));
    deps.log.warn({ err, interactionId: interaction.id }, 'could not defer the reply; dropping the request');
    return null;
  }
  return admission;
}
