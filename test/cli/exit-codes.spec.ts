/**
 * README's exit codes, walked across verbs with real processes: 0 ok, 1 error, 2 usage, 3 conflict, 4 unavailable.
 * One voter daemon (a consensus group of one, for the conflicts) and one plain peer daemon (for `connect`).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import { VoterCluster, freePorts } from '../node/consensus/cluster.ts'

const ABSENT = 'bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'

describe('exit codes across verbs (real processes)', function () {
  this.timeout(180_000)
  let work: string
  let offline: string
  let peer: string
  let voters: VoterCluster
  let peerDaemon: RunningDaemon | undefined
  const env = { DITS_CONFIG_ADDRESSES__LISTEN: '["/ip4/127.0.0.1/tcp/0"]' }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-exit-codes-'))
    offline = join(work, 'offline')
    await ok(['--repo', offline, 'init'])
    voters = new VoterCluster(join(work, 'voters'), 1)
    await voters.create(1)
    await voters.start(0)
    peer = voters.repos[1]
    peerDaemon = await startDaemon(peer, env)
  })
  after(async () => {
    await peerDaemon?.stop()
    await voters?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  async function expectCode (args: string[], code: number, message: RegExp): Promise<void> {
    const r = await dits(args)
    assert.equal(r.code, code, `dits-node ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    assert.match(r.stderr, message, `dits-node ${args.join(' ')}`)
  }

  it('usage errors exit 2', async () => {
    await expectCode(['--repo', offline, 'frobnicate'], 2, /unknown command/)
    await expectCode(['--repo', offline, 'cat'], 2, /missing required argument/)
    await expectCode(['--repo', offline, 'get', ABSENT, '--max-rate', 'fast'], 2, /invalid --max-rate "fast"/)
    await expectCode(['--repo', offline, 'ls', 'bafyfoo'], 2, /invalid CID "bafyfoo"/)
    await expectCode(['--repo', offline, 'connect', 'hello'], 2, /"hello" is not a multiaddr/)
    await expectCode(['--repo', peer, 'connect', 'hello'], 2, /"hello" is not a multiaddr/)
    await expectCode(['--repo', peer, 'connect', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWnope'], 2, /not a peer id/)
    // checked before a daemon is looked for: a bad argument is a usage error with a daemon or without
    await expectCode(['--repo', offline, 'ref', 'set', 'reel/cut', 'bafyfoo'], 2, /invalid CID "bafyfoo"/)
    await expectCode(['--repo', offline, 'ref', 'rm', 'reel/cut', '--expect', 'hello'], 2, /invalid CID "hello"/)
    await expectCode(['--repo', offline, 'ref', 'get', '../reel'], 2, /\.\./)
    await expectCode(['--repo', offline, 'lock', 'acquire', '/abs/path', '--ttl', '30s'], 2, /abs\/path/)
    await expectCode(['--repo', offline, 'cluster', 'add', '/ip4/10.0.0.5/tcp/99999'], 2, /not a valid multiaddr/)
    await expectCode(['--repo', join(work, 'none'), 'start'], 2, /no repo at/)
    await expectCode(['--repo', join(work, 'none'), 'status'], 2, /no repo at/)
  })

  it('conflicts exit 3', async () => {
    const voter = voters.repos[0]
    await ok(['--repo', voter, 'ref', 'set', 'reel/cut', ABSENT, '--expect-none'])
    await expectCode(['--repo', voter, 'ref', 'set', 'reel/cut', ABSENT, '--expect-none'], 3, /not at the expected|reel\/cut/)
    await ok(['--repo', voter, 'lock', 'acquire', 'reel/', '--ttl', '30s'])
    await expectCode(['--repo', peer, 'lock', 'acquire', 'reel/', '--ttl', '30s'], 3, /reel\//)
  })

  it('unavailable exits 4: content no one has, a network verb without a daemon, a peer that does not answer', async () => {
    await expectCode(['--repo', offline, 'get', ABSENT, '-o', join(work, 'x')], 4, /is not in the repo .*no daemon is running/)
    await expectCode(['--repo', offline, 'cat', ABSENT], 4, /is not in the repo/)
    await expectCode(['--repo', offline, 'ls', `${ABSENT}/a/b`], 4, /is not in the repo/)
    await expectCode(['--repo', offline, 'peers'], 4, /no daemon running/)
    await expectCode(['--repo', offline, 'ref', 'ls'], 4, /no daemon running/)
    const [closed] = await freePorts(1)
    await expectCode(['--repo', peer, 'connect', `/ip4/127.0.0.1/tcp/${closed}`], 4, /could not connect .*connection refused/)
  })

  it('connect dials the address it is given: a closed port of a peer already connected fails', async () => {
    const voterAddr = voters.addrs[0]
    const first = JSON.parse(await ok(['--repo', peer, '--json', 'connect', voterAddr])) as { id: string }
    assert.equal(first.id, voters.peerIds[0])
    // the same peer, where it does not listen
    const [closed] = await freePorts(1)
    await expectCode(['--repo', peer, 'connect', `/ip4/127.0.0.1/tcp/${closed}/p2p/${voters.peerIds[0]}`], 4, /could not connect .*connection refused/)
    // and again where it does: connected (the open connection serves)
    assert.equal((JSON.parse(await ok(['--repo', peer, '--json', 'connect', voterAddr])) as { id: string }).id, voters.peerIds[0])
    const peers = await ok(['--repo', peer, 'peers'])
    assert.match(peers.split('\n')[0], /^peer id +roles +net +transport +dir +address$/)
    assert.match(peers.split('\n')[1], new RegExp(`^${voters.peerIds[0]} `))
  })

  it('errors exit 1, and a ref name the voters normalize is said to be normalized', async () => {
    await expectCode(['--repo', offline, 'pin', 'rm', ABSENT], 1, /is not pinned/)
    const voter = voters.repos[0]
    const set = await dits(['--repo', voter, 'ref', 'set', 'bad name//x', ABSENT])
    assert.equal(set.code, 0, set.stderr)
    assert.match(set.stderr, /the ref name "bad name\/\/x" was normalized to "bad name\/x"/)
    const json = JSON.parse(await ok(['--repo', voter, '--json', 'ref', 'set', 'bad name//x', ABSENT])) as { name: string, requested: string, normalized: boolean }
    assert.deepEqual([json.name, json.requested, json.normalized], ['bad name/x', 'bad name//x', true])
    const plain = JSON.parse(await ok(['--repo', voter, '--json', 'ref', 'set', 'plain', ABSENT])) as { normalized: boolean }
    assert.equal(plain.normalized, false)
  })
})
