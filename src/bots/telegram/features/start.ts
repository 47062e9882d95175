import { Composer, type Context } from 'telegraf';
import { htmlMarkup } from '../../shared/format.ts';
import { languageOf, type Translate } from '../../shared/i18n.ts';
import { tFor } from '../language.ts';
import { replyToMessage } from '../respond.ts';
import { telegramCommands } from '../commands.ts';

// /start and /help: what the bot does, one line on privacy, the commands (in the user's language).

export function helpText(botUsername: string, t: Translate, language: string | undefined): string {
  const bot = htmlMarkup.escape(`@${botUsername}`);
  const commands = telegramCommands(languageOf(language)).map((c) => `/${c.command}: ${htmlMarkup.escape(c.description)}`);
  return [
    `<b>${htmlMarkup.escape(t('help.title'))}</b>`,
    htmlMarkup.escape(t('help.intro')),
    '',
    htmlMarkup.escape(t('help.groups', { bot: `@${botUsername}` })).replace(htmlMarkup.escape(`@${botUsername}`), bot),
    '',
    htmlMarkup.escape(t('help.privacy')),
    '',
    ...commands,
  ].join('\n');
}

export function startFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command(['start', 'help'], (ctx) => replyToMessage(ctx, helpText(ctx.botInfo.username, tFor(ctx.from), ctx.from.language_code), { html: true }));
  return composer;
}
