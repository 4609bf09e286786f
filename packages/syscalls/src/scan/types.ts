/** lsns' order of namespace types; only the order of reading depends on it. */
export const TYPES = ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'] as const;
export type NsType = (typeof TYPES)[number];
