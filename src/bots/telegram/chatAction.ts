import type { Telegram } from 'telegraf';

// Telegram shows a chat action for about five seconds; a match can take longer, so it is renewed
// until the answer is sent. A failed action is not worth reporting: the answer itself still goes out.

export type ChatAction = Parameters<Telegram['sendChatAction']>[1];

export function keepChatAction(telegram: Telegram, chatId: number, action: ChatAction, intervalMs = 4500): () => void {
  let stopped = false;
  const send = () => {
    if (!stopped) telegram.sendChatAction(chatId, action).catch(() => {});
  };
  send();
  const timer = setInterval(send, intervalMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
