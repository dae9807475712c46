import assert from 'node:assert/strict'
import { RefsLocksStateMachine, admit, defaultAccessTable, encodeCommand, hasRole } from '../../../src/state/index.ts'
import { CID1, T0 } from './helpers.ts'
import type { AccessTable, Command, RequestBody } from '../../../src/state/index.ts'

const A = '12D3KooWAhn3CQe7Tm8q7ug9GpKQYz6BvStUumXG7UuhyyrQ7m9D'
const B = '12D3KooWGUjLSsJUy2bma6tDobub5GMUYv9emi45HrqvwJ8JZBpn'
const V = '12D3KooWB7UhHp2XWnb1uyKMmpiqdoenLW7nx1pLcwmNnT6uRRgE'

describe('state machine: access (roles, identity, audit)', () => {
  describe('admit: what a voter proposes for a request', () => {
    const ctx = (table: AccessTable = defaultAccessTable()) => ({ from: A, table, voters: [V], unset: true })

    it('sets the owner from the connection and refuses any owner, now or base a client sent', () => {
      const ok = admit({ type: 'ref.set', client: 'c', seq: 1, name: 'a', cid: CID1 } as RequestBody, ctx())
      assert.ok('command' in ok)
      assert.equal(ok.command.owner, A)
      for (const field of ['owner', 'now', 'base']) {
        const r = admit({ type: 'ref.set', client: 'c', seq: 1, name: 'a', cid: CID1, [field]: field === 'owner' ? V : 1 } as RequestBody, ctx())
        assert.ok(!('command' in r) && r.error.name === 'InvalidCommandError' && r.error.message.includes(`field '${field}'`), JSON.stringify(r))
      }
    })

    it('refuses a peer without the role the command needs, naming peer (and name) and role, exit 3', () => {
      const table = { ...defaultAccessTable(), write: [B], names: { [A]: 'ana-ws' } }
      const r = admit({ type: 'ref.rm', client: 'c', seq: 1, name: 'a', expect: CID1 } as RequestBody, ctx(table))
      assert.ok(!('command' in r))
      assert.equal(r.error.name, 'AccessDeniedError')
      assert.equal(r.error.exitCode, 3)
      assert.match(r.error.message, new RegExp(`^peer ${A} \\(ana-ws\\) lacks the write role`))
      // admin defaults to the voters: a lock break from A is refused, from V admitted
      assert.ok(!('command' in admit({ type: 'lock.break', client: 'c', seq: 1, path: 'x', reason: 'r' } as RequestBody, ctx())))
      assert.ok('command' in admit({ type: 'lock.break', client: 'c', seq: 1, path: 'x', reason: 'r' } as RequestBody, { ...ctx(), from: V }))
      // an admitted access change carries the voter's table as its base while none is replicated
      const g = admit({ type: 'access.grant', client: 'c', seq: 1, role: 'write', peer: A } as RequestBody, { ...ctx(table), from: V })
      assert.ok('command' in g && g.command.type === 'access.grant' && g.command.base?.write?.[0] === B)
    })

    it('hasRole: null is the default (everyone; voters for admin), a list is an allow-list', () => {
      const t = defaultAccessTable()
      assert.ok(hasRole(t, A, 'read', [V]) && hasRole(t, A, 'write', [V]) && hasRole(t, A, 'lock', [V]))
      assert.ok(!hasRole(t, A, 'admin', [V]) && hasRole(t, V, 'admin', [V]))
      assert.ok(!hasRole({ ...t, admin: [A] }, V, 'admin', [V]))
      assert.ok(!hasRole({ ...t, read: [] }, A, 'read', [V]))
    })
  })

  describe('access.grant and access.revoke in the log', () => {
    let sm: RefsLocksStateMachine
    let index = 0
    const apply = (cmd: Record<string, unknown>) => sm.apply(++index, encodeCommand({ client: 'c-admin', seq: index, now: T0 + index, owner: V, ...cmd } as Command))

    beforeEach(() => {
      sm = new RefsLocksStateMachine()
      index = 0
    })

    it('the first change starts from the stamped base; later ones from the replicated table; every change audited', () => {
      assert.equal(sm.query({ type: 'access.ls' }).table, null)
      const base = { ...defaultAccessTable(), write: [B] }
      const g = apply({ type: 'access.grant', role: 'write', peer: A, name: 'ana-ws', base, user: 'root' })
      assert.ok(g.result.ok && g.result.type === 'access.grant')
      assert.deepEqual(sm.query({ type: 'access.ls' }).table?.write, [B, A])
      // a base on a later change is ignored: the replicated table wins
      apply({ type: 'access.revoke', role: 'write', peer: B, base: defaultAccessTable() })
      const ls = sm.query({ type: 'access.ls' })
      assert.deepEqual(ls.table?.write, [A])
      assert.equal(ls.table?.names[A], 'ana-ws')
      assert.deepEqual(ls.audit.map(e => [e.change, e.role, e.peer, e.by, e.user, e.index]), [['grant', 'write', A, V, 'root', 1], ['revoke', 'write', B, V, undefined, 2]])
      // revoking the last admin gives admin back to the voters; revoking from an open role is refused
      apply({ type: 'access.grant', role: 'admin', peer: A })
      apply({ type: 'access.revoke', role: 'admin', peer: A })
      assert.equal(sm.query({ type: 'access.ls' }).table?.admin, null)
      const open = apply({ type: 'access.revoke', role: 'lock', peer: A })
      assert.ok(!open.result.ok && open.result.error.name === 'InvalidCommandError' && /open to every member/.test(open.result.error.message))
    })

    it('the table, its audit log and user labels survive a snapshot; a malformed table in one is refused', () => {
      apply({ type: 'access.grant', role: 'read', peer: A })
      apply({ type: 'ref.set', name: 'r', cid: CID1, user: 'ana' })
      const back = RefsLocksStateMachine.restore(sm.snapshot())
      assert.deepEqual(back.query({ type: 'access.ls' }), sm.query({ type: 'access.ls' }))
      assert.equal(back.query({ type: 'ref.log', name: 'r' }).entries[0].user, 'ana')
      assert.equal(back.query({ type: 'ref.get', name: 'r' }).ref?.user, 'ana')
      assert.throws(() => encodeCommand({ type: 'access.grant', client: 'c', seq: 9, now: 1, owner: V, role: 'read', peer: 'not-a-peer' } as Command), /field 'peer': not a peer id/)
      assert.throws(() => encodeCommand({ type: 'access.grant', client: 'c', seq: 9, now: 1, owner: V, role: 'root', peer: A } as unknown as Command), /field 'role': must be one of read, write, lock, admin/)
    })
  })
})
