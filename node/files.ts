/**
 * Positional whole-buffer file I/O: the loops every writer and reader of blocks, outputs and the Raft log needs,
 * once, with the same answer to a file system that stops taking bytes; the aligned memory O_DIRECT takes; and
 * fsync by path and durable whole-file writes.
 */
import { execFile } from 'node:child_process'
import { constants, writeSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FileHandle } from 'node:fs/promises'
import type { Uint8ArrayList } from 'uint8arraylist'
import { DitsError } from '../src/errors.ts'

/**
 * Everything in a repo is its owner's alone (issue 14: block files were 0644 in a 0755 repo, so any local user
 * could read all stored content): files 0600, directories 0700.
 */
export const PRIVATE_FILE_MODE = 0o600
export const PRIVATE_DIR_MODE = 0o700

/** open(2)'s O_DIRECT: Linux's; undefined where Node lacks it (direct writes are then off). */
export const O_DIRECT = constants.O_DIRECT as number | undefined
/** what O_DIRECT needs memory, offsets and lengths aligned to: a page covers every logical block size in use */
export const DIRECT_ALIGN_BYTES = 4096
const WASM_PAGE_BYTES = 64 * 1024

/** The slice of the WebAssembly JS API used here (the project compiles without the DOM types that declare it). */
const { WebAssembly } = globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } } }

/**
 * `length` bytes that start on a page boundary, as O_DIRECT needs. A WebAssembly memory always does (it is
 * mapped whole, in 64 KiB pages); a Buffer's place in memory is up to the allocator.
 */
export function alignedBuffer (length: number): Uint8Array {
  return new Uint8Array(new WebAssembly.Memory({ initial: Math.ceil(length / WASM_PAGE_BYTES) }).buffer, 0, length)
}

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

/** `bytes` in one piece: itself, or its pieces copied together. */
export function contiguous (bytes: Uint8Array | Uint8ArrayList): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : bytes.subarray()
}

/** Copies `bytes` (in one piece or several) into `target` at `at`. */
export function copyInto (target: Uint8Array, bytes: Uint8Array | Uint8ArrayList, at: number): void {
  if (bytes instanceof Uint8Array) {
    target.set(bytes, at)
    return
  }
  for (const piece of bytes) {
    target.set(piece, at)
    at += piece.byteLength
  }
}

function taken (written: number, wanted: number): number {
  if (written === 0) throw new DitsError(`the file system took none of ${wanted} bytes`)
  return written
}

/** fsync a file or a directory by path. */
export async function fsyncPath (path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * syncfs(2) of the file system that holds `path`, through coreutils' `sync -f` (Node has no binding for it): every
 * file written on it, data and names, is durable once this returns true. One journal commit and one cache flush for
 * all of them, where an fdatasync per file and an fsync per directory pay one each (ext4 here). False where it cannot
 * be done (not Linux, no `sync -f`, or syncfs failed): the caller then syncs each file, which reports its own error.
 */
export async function syncFileSystem (path: string): Promise<boolean> {
  if (process.platform !== 'linux') return false
  return await new Promise(resolve => {
    execFile('sync', ['-f', path], { timeout: 0 }, err => { resolve(err == null) })
  })
}

/** Write a file so that after return it survives power loss: temp, fsync, rename, fsync the directory. */
export async function writeDurable (path: string, data: string | Uint8Array, mode = PRIVATE_FILE_MODE): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  await fsyncPath(dirname(path))
}
