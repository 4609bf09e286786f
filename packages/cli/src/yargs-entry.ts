// Bundled on its own (dist/yargs.cjs beside each tool) so the tools' common path never loads yargs.
export { default } from 'yargs';
