import type { Context, Telegram } from 'telegraf';

// Answers always quote the message they answer: in a busy group that says whose photo it was.
// allow_sending_without_reply: the answer still goes out if that message was deleted meanwhile.

export function replyParameters(messageId: number): { message_id: number; allow_sending_without_reply: true } {
  return { message_id: messageId, allow_sending_without_reply: true };
}

export async function sendReply(
  telegram: Telegram,
  chatId: number,
  replyTo: number,
  text: string,
  opts: { html?: boolean } = {},
): Promise<void> {
  await telegram.sendMessage(chatId, text, {
    reply_parameters: replyParameters(replyTo),
    ...(opts.html ? { parse_mode: 'HTML' as const } : {}),
    link_preview_options: { is_disabled: true },
  });
}

/** Replies to the message that triggered this update. */
export async function replyToMessage(ctx: Context, text: string, opts: { html?: boolean } = {}): Promise<void> {
  const message = ctx.message;
  if (!message || !ctx.chat) return;
  await sendReply(ctx.telegram, ctx.chat.id, message.message_id, text, opts);
}

/** The name a leaderboard shows: first and last name as the user set them, else the username. */
export function displayNameOf(user: { first_name: string; last_name?: string; username?: string }): string {
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ').trim();
  return (name || (user.username ? `@${user.username}` : 'Someone')).slice(0, 64);
}

/** The reply picture with its caption (HTML), as a reply to the message that asked. */
export async function sendPicture(telegram: Telegram, chatId: number, replyTo: number, picture: Buffer, caption: string): Promise<void> {
  await telegram.sendPhoto(
    chatId,
    { source: picture, filename: 'lookalike.jpg' },
    {
      caption,
      parse_mode: 'HTML',
      // In a multipart upload telegraf 4.16 drops object-valued fields it does not know to serialise;
      // the Bot API takes JSON-serialised strings for them.
      reply_parameters: JSON.stringify(replyParameters(replyTo)) as unknown as ReturnType<typeof replyParameters>,
    },
  );
}
