/** `piflow <command>`: the command-line front end (Node; wasm backend by default). */
import { HelpRequested, UsageError } from './args.js';
import { conformanceCommand } from './conformance.js';
import { benchCommand } from './bench.js';
import { describeDatasets } from '../../datasets/index.js';
import { distillCommand, evaluateCommand, sampleCommand, trainClassifierCommand, trainTeacherCommand } from './commands.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  'train-teacher': { run: trainTeacherCommand, help: 'train a flow-matching teacher (2D datasets, or --dataset mnist)' },
  distill: { run: distillCommand, help: 'distill a π-Flow student from a teacher by π-ID (or --method shortcut|dmd, the baselines; 2D and MNIST)' },
  sample: { run: sampleCommand, help: 'draw samples from a teacher or student (2D: CSV; MNIST: PNG grid + raw .f32)' },
  evaluate: { run: evaluateCommand, help: "sliced W1, precision, mode coverage and a student's fidelity to its teacher (2D); MNIST: classifier Fréchet distance and class diversity (JSON)" },
  'train-classifier': { run: trainClassifierCommand, help: 'train the MNIST classifier used by the image metrics' },
  conformance: { run: conformanceCommand, help: 'check the engine against golden cases' },
  figures: { run: async (argv) => (await import('./figures.js')).figuresCommand(argv), help: 'train (or reuse) and draw the figures: SVG + PNG + figures.json + figures.md' },
  bench: { run: benchCommand, help: 'time the benchmark workload on wasm and cpu (JSON last)' },
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help' || !(command in COMMANDS)) {
    const list = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(14)} ${v.help}`).join('\n');
    const msg = `usage: piflow <command> [options]\ncommands:\n${list}\n2D datasets (--dataset; or mnist):\n${describeDatasets('  ')}`;
    if (command && command !== '--help' && command !== 'help') {
      console.error(`piflow: unknown command '${command}'\n${msg}`);
      return 2;
    }
    console.log(msg);
    return command ? 0 : 2;
  }
  try {
    return await COMMANDS[command].run(rest);
  } catch (e) {
    if (!(e instanceof HelpRequested)) throw e;
    const layout = e.layout === 'images' ? ' (MNIST)' : e.layout === 'points' ? ' (2D; with --dataset mnist: the MNIST options)' : '';
    console.log([`usage: piflow ${command} [options]${layout}`, `  ${COMMANDS[command].help}`, 'options:', ...e.lines].join('\n'));
    return 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError) console.error(`piflow: ${e.message}`);
    else console.error(`piflow: ${(e as Error).message ?? e}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
