import { ApplicationIntegrationType, InteractionContextType } from 'discord.js';

// Where the look-alike commands work: in servers that installed the bot, and, when a user installs the
// app to their account, in their DMs with the bot and in their other DMs and group DMs.

export const EVERYWHERE = [InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel] as const;
export const BOTH_INSTALLS = [ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall] as const;
