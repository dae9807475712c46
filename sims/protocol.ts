/**
 * What simulated clients and nodes say to each other over the simulated network: the shape of the client
 * protocol the real daemon serves (a command for the leader to stamp and propose, a linearizable read, and the
 * answers), without its encoding.
 */

import type { ClientCommand, CommandResult, RefRecord } from '../src/state/index.ts'

/** A client command without the fields the leader fills in (`now`) or the session supplies. */
export type CommandBody = ClientCommand extends infer C ? C extends ClientCommand ? Omit<C, 'client' | 'seq' | 'now' | 'owner'> : never : never

export type ClientRequest =
  /**
   * No owner: the voter takes it from the connection (the endpoint the request came from). `claim`: an owner the
   * client fills in anyway — only a spoofing client does, and the production admission refuses it.
   */
  | { kind: 'write', client: string, op: number, attempt: number, seq: number, claim?: string, body: CommandBody }
  | { kind: 'read', client: string, op: number, attempt: number, name: string }

export type ClientReply =
  /** the committed command's result (the first one, for a retried `(client, seq)`) */
  | { kind: 'result', op: number, attempt: number, result: CommandResult }
  /** a linearizable read of a ref */
  | { kind: 'read', op: number, attempt: number, ref: RefRecord | null }
  /** not the leader: try `leader` (undefined while an election is under way) */
  | { kind: 'redirect', op: number, attempt: number, leader: string | undefined }
  /** the proposal was overwritten or dropped before it committed: retry with the same `(client, seq)` */
  | { kind: 'retry', op: number, attempt: number, reason: string }
