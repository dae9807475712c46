/**
 * Positional whole-buffer file I/O: the loops every writer and reader of blocks, outputs and the Raft log needs,
 * once, with the same answer to a file system that stops taking bytes.
 */
import { writeSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { DitsError } from '../src/errors.ts'

/** Writes all of `bytes` at `position`: a short write (a disk filling up) is retried, and one that takes nothing fails. */
export async function writeFully (fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.byteLength - at, position + at)
    at += taken(bytesWritten, bytes.byteLength - at)
  }
}

/** writeFully on the calling thread, for a write that only copies into the page cache. */
export function writeFullySync (fd: number, bytes: Uint8Array, position: number): void {
  for (let at = 0; at < bytes.byteLength;) at += taken(writeSync(fd, bytes, at, bytes.byteLength - at, position + at), bytes.byteLength - at)
}

/** Reads into all of `bytes` from `position`, or up to the end of the file; returns how many bytes it read. */
export async function readFully (fh: FileHandle, bytes: Uint8Array, position: number): Promise<number> {
  let at = 0
  while (at < bytes.byteLength) {
    const { bytesRead } = await fh.read(bytes, at, bytes.byteLength - at, position + at)
    if (bytesRead === 0) break
    at += bytesRead
  }
  return at
}

function taken (written: number, wanted: number): number {
  if (written === 0) throw new DitsError(`the file system took none of ${wanted} bytes`)
  return written
}
