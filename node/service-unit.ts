/**
 * The systemd unit that runs a dits-node daemon (a seed, typically) as a service: `dits-node service install --print`
 * prints it, and the package ships the one for a standard install (service/dits-node.service). Pure text: nothing
 * here touches systemd.
 *
 * @example
 * ```ts
 * process.stdout.write(systemdUnit({ exec: '/usr/local/bin/dits-node', repo: '/var/lib/dits', user: 'dits', stopTimeoutMs: 30_000 }))
 * ```
 */

/** Seconds systemd waits past the daemon's own stop bound before it sends SIGKILL: the daemon exits by itself first. */
export const SERVICE_STOP_MARGIN_S = 5
/** The user a service runs as unless told otherwise: a dedicated system user, not root. */
export const DEFAULT_SERVICE_USER = 'dits'
/** Where an installed unit goes. */
export const DEFAULT_UNIT_PATH = '/etc/systemd/system/dits-node.service'
/** PATH inside the service: systemd's own default, without the sbin directories. */
const SERVICE_PATH = '/usr/local/bin:/usr/bin:/bin'
/** Trees ProtectHome= hides. */
const HOME_TREES = ['/home/', '/root/', '/run/user/']

export interface SystemdUnitInit {
  /** the absolute path of the `dits-node` command ExecStart runs (the package's launcher, or the installed command) */
  exec: string
  /** the repo, absolute */
  repo: string
  /** @default DEFAULT_SERVICE_USER */
  user?: string
  /** the daemon's stop bound (cli/verbs/start.ts stopTimeoutMs) */
  stopTimeoutMs: number
  /** set in the service's environment when it is not the default (the daemon reads it at start) */
  stopTimeoutEnv?: string
  /** a directory to put first on the service's PATH: where the `node` that runs the launcher is */
  nodeDir?: string
}

/** Whether `path` is under a tree ProtectHome= hides. */
function underHome (path: string): boolean {
  return HOME_TREES.some(tree => (path + '/').startsWith(tree))
}

/** A value for a unit file: systemd takes spaces in paths only quoted; specifiers (%) and backslashes are escaped. */
function unitValue (value: string): string {
  const escaped = value.replace(/\\/g, '\\\\').replace(/%/g, '%%')
  return /[\s"']/.test(escaped) ? `"${escaped.replace(/"/g, '\\"')}"` : escaped
}

export function systemdUnit (init: SystemdUnitInit): string {
  const user = init.user ?? DEFAULT_SERVICE_USER
  const stopS = Math.ceil(init.stopTimeoutMs / 1000)
  const path = init.nodeDir === undefined || SERVICE_PATH.split(':').includes(init.nodeDir) ? SERVICE_PATH : `${init.nodeDir}:${SERVICE_PATH}`
  // The repo must stay writable and the command readable: a home tree they are in is made read-only, not hidden.
  const home = [init.repo, init.exec, init.nodeDir ?? ''].some(underHome) ? 'read-only' : 'yes'
  const env = [`PATH=${path}`, ...(init.stopTimeoutEnv === undefined ? [] : [`DITS_STOP_TIMEOUT_MS=${init.stopTimeoutEnv}`])]
  return `# dits-node as a systemd service (README, "Running a seed as a service"), made by \`dits-node service install --print\`.
# Before the first start, as root:
#   useradd --system --home-dir ${init.repo} --shell /usr/sbin/nologin ${user}
#   install -d -o ${user} -g ${user} -m 0700 ${init.repo}
#   runuser -u ${user} -- ${init.exec} --repo ${init.repo} init --role seed
# then: cp this file ${DEFAULT_UNIT_PATH} && systemctl daemon-reload && systemctl enable --now dits-node
[Unit]
Description=dits-node daemon on ${init.repo}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${user}
Group=${user}
ExecStart=${unitValue(init.exec)} start --repo ${unitValue(init.repo)}
${env.map(e => `Environment=${unitValue(e)}`).join('\n')}
Restart=on-failure
RestartSec=5s
# SIGTERM to the daemon alone (the launcher passes it on to the Node it runs); it stops within ${stopS} s and exits by
# itself past that (DITS_STOP_TIMEOUT_MS), so systemd's SIGKILL, ${SERVICE_STOP_MARGIN_S} s later, is never needed.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=${stopS + SERVICE_STOP_MARGIN_S}
# a block file per chunk, a socket per peer
LimitNOFILE=65536
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${unitValue(init.repo)}
ProtectHome=${home}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
# (not MemoryDenyWriteExecute: V8 compiles JavaScript to machine code at run time)

[Install]
WantedBy=multi-user.target
`
}
