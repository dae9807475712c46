/**
 * What a workstation's gc keeps for the studio (issue 18): the target of every ref that this node holds and that no
 * seed holds whole and pinned yet. Until a seed has it, this copy may be the studio's last, so gc never deletes it,
 * pinned here or not. Each seed is asked with ROOT_STATUS (node/net/seed.ts); a seed that does not answer counts
 * as lacking it. The refs come from the consensus group: when it cannot answer, gc is refused rather than guessing.
 */
import { parseCid } from '../../src/cid.ts'
import { forEachLimit } from '../limit.ts'
import { GcRefusedError } from '../maintenance.ts'
import type { CID } from 'multiformats/cid'
import type { RefRecord } from '../../src/state/index.ts'
import type { RootStatusReport, SeedTarget } from '../net/seed.ts'
import type { KeptForSeed } from '../maintenance.ts'

/** ROOT_STATUS requests in flight at once, over all refs and seeds */
export const SEED_STATUS_CONCURRENCY = 4

export interface SeedKeepDeps {
  refs(signal?: AbortSignal): Promise<RefRecord[]>
  held(cid: CID): Promise<boolean>
  /** the seeds to ask (config `seeds`, or connected peers whose role is seed); none: every target held is kept */
  seeds(): SeedTarget[]
  status(seed: SeedTarget, root: CID, signal?: AbortSignal): Promise<RootStatusReport>
}

/** The ref targets held here that no seed holds whole and pinned, each with the ref and why it is kept. */
export async function refTargetsSeedsLack (deps: SeedKeepDeps, signal?: AbortSignal): Promise<KeptForSeed[]> {
  let refs: RefRecord[]
  try {
    refs = await deps.refs(signal)
  } catch (err) {
    signal?.throwIfAborted()
    throw new GcRefusedError(`gc refused: it keeps every ref target no seed holds yet, and cannot read the refs (${(err as Error).message}); run it again when the consensus group answers`)
  }
  const seeds = deps.seeds()
  const kept: KeptForSeed[] = []
  await forEachLimit(refs, SEED_STATUS_CONCURRENCY, async ref => {
    const root = parseCid(ref.cid)
    if (!(await deps.held(root))) return
    if (seeds.length === 0) {
      kept.push({ root: ref.cid, ref: ref.name, why: 'no seed is configured or connected: this copy may be the only one' })
      return
    }
    const lacking: string[] = []
    for (const seed of seeds) {
      signal?.throwIfAborted()
      try {
        const s = await deps.status(seed, root, signal)
        if (s.dag === 'complete' && s.reasons.length > 0) return
        lacking.push(`seed ${s.seed} has ${s.chunks_held} of ${s.chunks_held + s.chunks_missing} chunks${s.reasons.length === 0 ? ', not pinned' : ''}${s.manifests_missing > 0 ? ` (${s.manifests_missing} manifest block(s) missing)` : ''}`)
      } catch (err) {
        signal?.throwIfAborted()
        lacking.push(`${String(seed)} did not answer: ${(err as Error).message}`)
      }
    }
    kept.push({ root: ref.cid, ref: ref.name, why: lacking.join('; ') })
  })
  return kept
}
