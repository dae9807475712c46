/**
 * Limits of the refs+locks state machine. The `MAX_*` bounds are checked when a command is validated, on
 * every replica, so they are part of the replicated protocol: changing one changes which logged commands
 * are accepted. The `DEFAULT_*` sizes are constructor defaults; a snapshot records the sizes in effect, so a
 * restored replica keeps the sizes of the one that took the snapshot.
 */

/** Client sessions kept for exactly-once; past this, the least recently active session is dropped. */
export const DEFAULT_MAX_SESSIONS = 4096

/**
 * Results kept per client session: the newest this many sequence numbers. A retry of anything older is
 * answered with SessionExpiredError rather than applied twice. It also bounds how far out of order one
 * client's pipelined commands may commit.
 */
export const DEFAULT_SESSION_WINDOW = 32

/** Entries kept in each ref's log; older ones are dropped (and counted) first. */
export const DEFAULT_MAX_REF_LOG_ENTRIES = 256

/** Entries kept in the lock audit log (breaks and expiries), oldest dropped first. */
export const DEFAULT_MAX_AUDIT_ENTRIES = 1024

/** Largest encoded command accepted by `decodeCommand`, in bytes (a valid one stays under 10 KiB). */
export const MAX_COMMAND_BYTES = 64 * 1024

/** Longest client id and owner, in UTF-16 code units. */
export const MAX_ID_CHARS = 256

/** Longest `lock.break` reason, in UTF-16 code units. */
export const MAX_REASON_CHARS = 1024

/** Longest CID string accepted before parsing (a BLAKE3 CIDv1 in base32 is 62 characters). */
export const MAX_CID_CHARS = 256

/**
 * Latest `now` a command may carry, in ms since the epoch: the end of the ECMAScript Date range, so that any
 * lease end (`now` + a TTL) is still an exact integer, and dag-cbor encodes it as one.
 */
export const MAX_TIMESTAMP_MS = 8_640_000_000_000_000

/** Longest lease a lock may ask for, in ms (one day: a holder's node renews far more often than this). */
export const MAX_LOCK_TTL_MS = 24 * 60 * 60 * 1000

/** Longest a lock request may wait in the queue, in ms. */
export const MAX_LOCK_WAIT_MS = 24 * 60 * 60 * 1000
