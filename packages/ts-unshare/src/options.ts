/** ts-unshare's options: one table for parsing, help (util-linux's newest grouping) and completion. */
import type { OptionSpec } from '@ns/cli';

const ns = (short: string, name: string, desc: string): OptionSpec => ({
  name,
  short,
  arg: 'optional',
  shortArg: 'none', // util-linux: -n takes no file, only --net=FILE does
  argName: '<file>',
  desc,
  group: 1,
});

export const OPTIONS: OptionSpec[] = [
  ns('m', 'mount', 'unshare mounts namespace'),
  ns('u', 'uts', 'unshare UTS namespace (hostname etc)'),
  ns('i', 'ipc', 'unshare System V IPC namespace'),
  ns('n', 'net', 'unshare network namespace'),
  ns('p', 'pid', 'unshare pid namespace'),
  ns('U', 'user', 'unshare user namespace'),
  ns('C', 'cgroup', 'unshare cgroup namespace'),
  ns('T', 'time', 'unshare time namespace'),

  { name: 'mount-proc', arg: 'optional', argName: '<dir>', group: 2, desc: 'mount proc filesystem first (implies --mount)' },
  {
    name: 'mount-binfmt',
    arg: 'optional',
    argName: '<dir>',
    group: 2,
    desc: ['mount binfmt filesystem first (implies --user', 'and --mount)'],
  },
  {
    name: 'load-interp',
    short: 'l',
    arg: 'required',
    argName: '<file>',
    group: 2,
    desc: ['load binfmt definition in the namespace', '(implies --mount-binfmt)'],
  },
  {
    name: 'propagation',
    arg: 'required',
    group: 2,
    label: '--propagation slave|shared|private|unchanged',
    desc: 'modify mount propagation in mount namespace',
  },
  { name: 'root', short: 'R', arg: 'required', argName: '<dir>', group: 2, desc: 'run the command with root directory set to <dir>' },
  { name: 'wd', short: 'w', arg: 'required', argName: '<dir>', group: 2, desc: 'change working directory to <dir>' },

  { name: 'setuid', short: 'S', arg: 'required', argName: '<uid>', group: 3, desc: 'set uid in entered namespace' },
  { name: 'setgid', short: 'G', arg: 'required', argName: '<gid>', group: 3, desc: 'set gid in entered namespace' },
  {
    name: 'map-user',
    arg: 'required',
    argName: '<uid>|<name>',
    group: 3,
    desc: 'map current user to uid (implies --user)',
  },
  {
    name: 'map-group',
    arg: 'required',
    argName: '<gid>|<name>',
    group: 3,
    desc: 'map current group to gid (implies --user)',
  },
  { name: 'map-root-user', short: 'r', arg: 'none', group: 3, desc: 'map current user to root (implies --user)' },
  {
    name: 'map-current-user',
    short: 'c',
    arg: 'none',
    group: 3,
    desc: 'map current user to itself (implies --user)',
  },
  { name: 'map-auto', arg: 'none', group: 3, desc: 'map users and groups automatically (implies --user)' },
  {
    name: 'map-subids',
    arg: 'none',
    group: 3,
    desc: 'map users and groups based on current user\'s subuid/subgid (implies --user)',
  },
  {
    name: 'map-users',
    arg: 'required',
    repeat: true,
    group: 3,
    label: '--map-users <inneruid>:<outeruid>:<count>',
    desc: 'map count users from outeruid to inneruid (implies --user)',
  },
  {
    name: 'map-groups',
    arg: 'required',
    repeat: true,
    group: 3,
    label: '--map-groups <innergid>:<outergid>:<count>',
    desc: 'map count groups from outergid to innergid (implies --user)',
  },
  {
    name: 'owner',
    arg: 'required',
    argName: '<uid>:<gid>',
    group: 3,
    desc: 'set the owner of the user namespace (implies --user)',
  },

  { name: 'fork', short: 'f', arg: 'none', group: 4, desc: 'fork before launching <program>' },
  {
    name: 'kill-child',
    arg: 'optional',
    argName: '<signame>',
    group: 4,
    desc: ['when dying, kill the forked child (implies --fork)', '  defaults to SIGKILL'],
  },
  {
    name: 'forward-signals',
    arg: 'none',
    group: 4,
    desc: ['forward SIGTERM and SIGINT to the forked child', '  (implies --fork)'],
  },

  {
    name: 'setgroups',
    arg: 'required',
    group: 5,
    label: '--setgroups allow|deny',
    desc: 'control the setgroups syscall in user namespaces',
  },
  { name: 'keep-caps', arg: 'none', group: 5, desc: 'retain capabilities granted in user namespaces' },

  {
    name: 'monotonic',
    arg: 'required',
    argName: '<offset>',
    group: 6,
    desc: 'set clock monotonic offset (seconds) in time namespaces',
  },
  {
    name: 'boottime',
    arg: 'required',
    argName: '<offset>',
    group: 6,
    desc: 'set clock boottime offset (seconds) in time namespaces',
  },
  { name: 'clear-env', arg: 'none', group: 6, desc: 'clear the environment before launching <program>' },
  {
    name: 'whitelist-env',
    arg: 'required',
    argName: '<list>',
    group: 6,
    desc: 'keep only these comma-separated environment variables',
  },

  { name: 'help', short: 'h', arg: 'none', group: 7, desc: 'display this help' },
  { name: 'version', short: 'V', arg: 'none', group: 7, desc: 'display version' },
];
