#!/usr/bin/env node
/*
 * The installed `dits-node` command. Its shebang runs whatever `node` comes first on PATH, which may be older than
 * the Node 22 the CLI needs (an `npm link` or `npm install -g` on a system whose node is 20 crashed on its first
 * import). So this file is plain CommonJS that any Node can parse, and it:
 *  - runs the CLI in this process when this Node is new enough (no second process: `dits-node id` stays fast);
 *  - else runs it on the Node 22 binary the package brings (its `node` dependency, nested in a global or linked
 *    install, hoisted when dits-node is a dependency of another project), with the same arguments, stdio, exit
 *    code and signals;
 *  - else says in one line what it needs, and exits 1.
 */
'use strict'
const childProcess = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const url = require('url')

const NEEDED_NODE_MAJOR = 22
const PACKAGE_DIR = path.join(__dirname, '..')
const CLI = path.join(PACKAGE_DIR, 'dist', 'cli', 'bin.js')
/** the signals a shell or a service manager sends to stop or tell a process: passed on to the CLI */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']

function major (version) {
  return Number(String(version).replace(/^v/, '').split('.')[0])
}

/** The `node` dependency's binary, wherever npm put it (undefined when it is not installed). */
function bundledNode () {
  let manifest
  try {
    manifest = require.resolve('node/package.json', { paths: [PACKAGE_DIR] })
  } catch (err) {
    return undefined
  }
  const bin = path.join(path.dirname(manifest), 'bin', process.platform === 'win32' ? 'node.exe' : 'node')
  return fs.existsSync(bin) ? bin : undefined
}

function runOn (bin) {
  const child = childProcess.spawn(bin, [CLI].concat(process.argv.slice(2)), { stdio: 'inherit' })
  // A terminal's Ctrl-C reaches both processes (one process group); a `kill` of this pid reaches only this one.
  // Passing it on covers the second case; the CLI takes a repeated stop signal as the same request.
  FORWARDED_SIGNALS.forEach(function (signal) {
    process.on(signal, function () {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    })
  })
  child.on('error', function (err) {
    process.stderr.write('dits-node: cannot run ' + bin + ': ' + err.message + '\n')
    process.exit(1)
  })
  child.on('exit', function (code, signal) {
    if (signal === null) process.exit(code === null ? 1 : code)
    // die of the same signal, as a shell expects; where Node ignores it (SIGPIPE), exit as a shell reports it
    process.removeAllListeners(signal)
    try {
      process.kill(process.pid, signal)
    } catch (err) {}
    setTimeout(function () { process.exit(128 + (os.constants.signals[signal] || 0)) }, 100)
  })
}

if (major(process.versions.node) >= NEEDED_NODE_MAJOR) {
  import(url.pathToFileURL(CLI).href)
} else {
  const bin = bundledNode()
  if (bin === undefined) {
    process.stderr.write('dits-node needs Node.js >= ' + NEEDED_NODE_MAJOR + '; found ' + process.versions.node + '\n')
    process.exit(1)
  }
  runOn(bin)
}
