import { Command, Option } from 'commander';
import { loadConfig } from '../config.ts';
import { registerBotCommand } from './commands/bot.ts';
import { registerDatasetCommands } from './commands/dataset.ts';
import { registerIndexCommands } from './commands/index.ts';
import { registerMatchCommand } from './commands/match.ts';
import { registerModelCommands } from './commands/model.ts';
import { registerWorkerCommand } from './commands/worker.ts';
import { runCli } from './run.ts';

// `lookalike`: the command line. Each command lives in its own file under commands/.

export function buildProgram(): Command {
  const config = loadConfig();
  const program = new Command('lookalike')
    .description('Find the celebrity you look like: index a folder of people, match photos against it, run the chat bots.')
    .addOption(new Option('--data <dir>', 'data directory holding the index and the database').env('LOOKALIKE_DATA_DIR').default(config.dataDir))
    .showHelpAfterError();
  registerIndexCommands(program, config);
  registerMatchCommand(program, config);
  registerModelCommands(program, config);
  registerDatasetCommands(program, config);
  registerBotCommand(program, config);
  registerWorkerCommand(program, config);
  return program;
}

await runCli(async () => {
  await buildProgram().parseAsync(process.argv);
});
