import { Composer, type Context } from 'telegraf';
import { htmlMarkup } from '../../shared/format.ts';
import { replyToMessage } from '../respond.ts';

// /start and /help: what the bot does, one line on privacy, the commands.

export function helpText(botUsername: string): string {
  const bot = htmlMarkup.escape(`@${botUsername}`);
  return [
    '<b>Which celebrity do you look like?</b>',
    'Send me a selfie and I answer with your face beside your closest celebrity look-alike and how similar you are.',
    '',
    `In groups: reply /lookalike to a photo, or send a photo with /lookalike or ${bot} in its caption.`,
    '',
    'Privacy: photos and face data are never stored; for group leaderboards I keep your name, the celebrity and the score.',
    '',
    '/lookalike: find the look-alike of a photo (reply to it)',
    '/leaderboard: who in this group looks most like a celebrity',
    '/hide, /show: leave or rejoin leaderboards',
    '/forget: delete everything I stored about you',
    '/help: this message',
  ].join('\n');
}

export function startFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  composer.command(['start', 'help'], (ctx) => replyToMessage(ctx, helpText(ctx.botInfo.username), { html: true }));
  return composer;
}
